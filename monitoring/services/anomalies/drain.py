"""The detect drain: one worker at a time per partition (services) scores what the ingest drain queued."""
from __future__ import annotations

from core.drain import drain_kick, drain_partitions, drain_run, partition_of
from monitoring.models import DetectQueue, MetricSeries

from ..drains import DETECT
from .state import series_states_persist
from .step import telemetry_detect_step


def telemetry_detect_kick(*, partition: int, force: bool = False) -> None:
    drain_kick(DETECT, partition, force=force)


def telemetry_detect_drain(*, partition: int | None = None, idle_seconds: float | None = None,
                           max_seconds: float | None = None) -> int:
    """Score the partition's queued points (every partition's when None) step by step until none is
    left; returns the queue rows taken (-1: another worker holds the partition). Before it hands
    over, this worker's states are written."""

    def run(p: int) -> int:
        return drain_run(
            DETECT, p, lambda lease: telemetry_detect_step(partition=p, lease=lease).claimed,
            pending=lambda: DetectQueue.objects.filter(partition=p).exists(),
            pending_elsewhere=lambda: DetectQueue.objects.exclude(partition=p).exists(),
            on_finish=series_states_persist,
            idle_seconds=idle_seconds, max_seconds=max_seconds,
        )

    return drain_partitions(run, partition)


def series_detect(*, series_ids: list[int]) -> int:
    """Queue the given series for detection (whatever lies past their watermark) and drain."""
    services = dict(MetricSeries.objects.filter(pk__in=set(series_ids)).values_list("pk", "service_id"))
    DetectQueue.objects.bulk_create([
        DetectQueue(series_id=pk, first_ts=None, last_ts=None, partition=partition_of(service_id))
        for pk, service_id in services.items()
    ])
    return telemetry_detect_drain()
