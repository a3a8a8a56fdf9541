"""Anomaly evidence for the incident core's root-cause ranking (registered in MonitoringConfig.ready).

An anomaly row knows its value, the expected value and the detector's band; the distance from normal in
band half-widths, scaled so the band edge sits at the ranking's ABNORMAL_Z, is the z it expects.
"""
from __future__ import annotations

from datetime import datetime

from incidents.services.rootcause.ranking import ABNORMAL_Z, MetricEvidence
from incidents.services.rootcause.scoring import harmful_direction
from monitoring.models import Anomaly

MAX_ROWS = 20_000  # a storm's worth of anomalies; older ones add nothing to the ranking


def anomaly_evidence(*, services: list[str], start: datetime, end: datetime) -> list[MetricEvidence]:
    rows = (Anomaly.objects.filter(series__service__name__in=services, ts__gte=start, ts__lte=end)
            .order_by("ts").values_list("series_id", "series__service__name", "series__metric", "ts", "value",
                                        "expected", "lower", "upper", "direction")[:MAX_ROWS])
    best: dict[int, MetricEvidence] = {}
    for series_id, service, metric, ts, value, expected, lower, upper, direction in rows:
        half = max((upper - lower) / 2.0, 1e-9)
        z = ABNORMAL_Z * abs(value - expected) / half
        harmful = harmful_direction(metric)
        if harmful != "both" and harmful != direction:
            z *= 0.25  # latency falling or availability rising: seen, but not a fault
        kind = "load" if harmful == "both" else "fault"
        old = best.get(series_id)
        onset = old.onset if old is not None else ts.timestamp()
        if old is None or z > old.z:
            best[series_id] = MetricEvidence(node=service, metric=metric, z=z, onset=onset, value=value,
                                             expected=expected, kind=kind)
    return list(best.values())
