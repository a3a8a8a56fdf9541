"""`manage.py bench_signals`: push N signals (duplicates and distinct faults) through signal_ingest and time it."""
from __future__ import annotations

import multiprocessing as mp
import random
import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.db.models import Count
from tqdm import tqdm

from core.choices import Tier
from core.models import Service
from core.services import service_get_or_create, service_set_dependencies, team_get_or_create
from incidents.choices import OPEN_INCIDENT_STATUSES, AlertStatus
from incidents.contracts import SignalIn
from incidents.models import Alert, Incident
from incidents.services import signal_ingest, signals_ingest

BENCH_PREFIX = "bench-svc-"


def _signals(n: int, *, services: int, duplicate_share: float, seed: int) -> list[SignalIn]:
    """A storm: a few distinct faults repeating, skewed so some repeat a lot (as real alert storms do)."""
    rng = random.Random(seed)
    faults = max(1, int(n * (1 - duplicate_share)))
    out = []
    for i in range(n):
        # The first pass fires every fault once; the rest are repeats drawn with a skew.
        fault = i if i < faults else min(int(rng.paretovariate(1.2)) - 1, faults - 1)
        service = f"{BENCH_PREFIX}{fault % services}"
        out.append(SignalIn(
            source_kind="generic", source_name="bench", service=service, title=f"Fault {fault} on {service}",
            labels={"alertname": f"Fault{fault}", "instance": f"host-{fault % 7}"},
            severity_hint=("critical", "high", "warning", "info")[fault % 4],
        ))
    rng.shuffle(out)
    return out


def _run(chunk: list[SignalIn], position: int, show: bool, queue, batch: int = 1) -> None:
    forked = queue is not None  # in-process (one worker) keeps the caller's connection and transaction
    if forked:
        connections.close_all()  # a forked child must not share the parent's socket
    outcomes: Counter = Counter()
    try:
        _ingest_chunk(chunk, position, show, batch, outcomes)
    except Exception as exc:  # noqa: BLE001 (reported to the parent, which must not wait forever)
        outcomes["error: " + type(exc).__name__ + ": " + str(exc)[:200]] += 1
    if forked:
        connections.close_all()
        queue.put(dict(outcomes))
    else:
        _run.result = outcomes  # type: ignore[attr-defined]


def _ingest_chunk(chunk: list[SignalIn], position: int, show: bool, batch: int, outcomes: Counter) -> None:
    with tqdm(total=len(chunk), desc=f"worker {position}", position=position, disable=not show,
              mininterval=1) as bar:
        for start in range(0, len(chunk), batch):
            part = chunk[start:start + batch]
            if batch == 1:
                outcomes[signal_ingest(signal=part[0]).outcome] += 1
            else:
                outcomes.update(r.outcome for r in signals_ingest(signals=part))
            bar.update(len(part))


class Command(BaseCommand):
    help = "Benchmark signal intake on the current database; with --workers >1 checks the grouping constraint."

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, default=10_000, help="signals to push")
        parser.add_argument("--workers", type=int, default=1, help="processes ingesting at once (PostgreSQL)")
        parser.add_argument("--services", type=int, default=20)
        parser.add_argument("--duplicates", type=float, default=0.9, help="share of signals that repeat a fault")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--batch", type=int, default=1,
                            help="signals per signals_ingest call (1: signal_ingest per signal)")
        parser.add_argument("--keep", action="store_true", help="keep earlier bench alerts (default: clear them)")

    def handle(self, *args, n, workers, services, duplicates, seed, keep, batch, **options):
        if workers > 1 and connection.vendor != "postgresql":
            raise CommandError("--workers > 1 needs PostgreSQL (SQLite allows one writer at a time).")
        if not 0 <= duplicates < 1:
            raise CommandError("--duplicates is a share in [0, 1).")
        if batch < 1:
            raise CommandError("--batch is at least 1.")
        team = team_get_or_create(name="Bench")
        made = [service_get_or_create(name=f"{BENCH_PREFIX}{i}", team=team, tier=(Tier.TIER_1, Tier.TIER_2,
                                      Tier.TIER_3, Tier.TIER_4)[i % 4]) for i in range(services)]
        for i, service in enumerate(made[1:], start=1):  # a chain, so dependency correlation does work too
            service_set_dependencies(service=service, depends_on=[made[(i - 1) // 2]])
        bench = Service.objects.filter(name__startswith=BENCH_PREFIX)
        if not keep:
            Alert.objects.filter(service__in=bench).delete()
            Incident.objects.filter(service__in=bench).delete()
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                # Earlier runs' deleted rows would slow this one down wherever autovacuum is off
                # or has not come round yet; start every run from clean tables. (VACUUM cannot run
                # inside a transaction: called from a test, the tables are fresh anyway.)
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE incidents_alert, incidents_incident, incidents_timelineevent")
        signals = _signals(n, services=services, duplicate_share=duplicates, seed=seed)
        chunks = [signals[i::workers] for i in range(workers)]
        self.stdout.write(f"{n} signals ({duplicates:.0%} repeats) over {services} services, "
                          f"{workers} worker(s), batches of {batch}, {connection.vendor}")
        started = time.perf_counter()
        if workers == 1:
            _run(chunks[0], 0, True, None, batch)
            outcomes = _run.result  # type: ignore[attr-defined]
        else:
            connections.close_all()
            ctx = mp.get_context("fork")
            queue = ctx.Queue()
            procs = [ctx.Process(target=_run, args=(chunk, i, i == 0, queue, batch)) for i, chunk in enumerate(chunks)]
            for proc in procs:
                proc.start()
            outcomes = Counter()
            for _ in procs:
                outcomes.update(queue.get())
            for proc in procs:
                proc.join()
        errors = [key for key in outcomes if key.startswith("error")]
        if errors or (workers > 1 and any(proc.exitcode for proc in procs)):
            raise CommandError(f"A worker failed: {errors or 'see its traceback above'}")
        elapsed = time.perf_counter() - started
        opened = Incident.objects.filter(service__in=bench).count()
        self.stdout.write(f"{n / elapsed:,.0f} signals/s ({elapsed:.2f} s)")
        self.stdout.write(f"incidents opened: {opened}; alerts: {Alert.objects.filter(service__in=bench).count()}; "
                          f"outcomes: {dict(sorted(outcomes.items()))}")
        self.stdout.write(f"noise reduction: {1 - opened / n:.1%} of signals did not open an incident")
        dup_incidents = (Incident.objects.filter(service__in=bench, status__in=OPEN_INCIDENT_STATUSES)
                         .exclude(grouping_key="").values("grouping_key").annotate(c=Count("id")).filter(c__gt=1)
                         .count())
        dup_alerts = (Alert.objects.filter(service__in=bench, status=AlertStatus.FIRING).values("fingerprint")
                      .annotate(c=Count("id")).filter(c__gt=1).count())
        held = dup_incidents == 0 and dup_alerts == 0
        self.stdout.write(
            (self.style.SUCCESS if held else self.style.ERROR)(
                f"constraint held: {'yes' if held else 'NO'} (open incidents sharing a grouping key: "
                f"{dup_incidents}; firing alerts sharing a fingerprint: {dup_alerts})"
            )
        )
