"""Anomalies become signals into the incident core: one per series and direction, or one per service."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from incidents import services as incident_services
from incidents.contracts import InvalidSignal, SignalIn
from monitoring.choices import Direction, SeriesKind
from monitoring.formats.native import ANOMALY_LABEL_PREFIX
from monitoring.models import Anomaly, MetricSeries

from .records import Found

logger = logging.getLogger(__name__)

# An anomaly episode ends (and its signal resolves) after this many normal points in a row:
# at a 1-minute cadence a quarter of an hour, long enough not to flap on one quiet point.
RESOLVE_AFTER_NORMAL = 15
SOURCE_KIND = "anomaly"


def series_fingerprint(series: MetricSeries, direction: str) -> str:
    return f"anomaly:series:{series.pk}:{direction}"


def service_fingerprint(service_id: int) -> str:
    return f"anomaly:service:{service_id}:multivariate"


def _series_link(series: MetricSeries) -> dict[str, str]:
    return {"href": f"{settings.SITE_URL}/monitoring/series/{series.pk}/", "text": f"Chart of {series.metric}"}


def _raise_signals(found: list[Found], series: list[MetricSeries]) -> tuple[int, list[str]]:
    """One signal per series and direction, or ONE per service when several of its series are
    anomalous in the same run (a multivariate anomaly); resolutions for finished episodes."""
    max_age = timedelta(seconds=settings.ANOMALY_SIGNAL_MAX_AGE_SECONDS)
    horizon = timezone.now() - max_age
    signals: list[SignalIn] = []
    targets: list[list[Anomaly]] = []  # anomalies each signal stands for, to link them back
    by_service: dict[int, list[Found]] = defaultdict(list)
    for f in found:
        recent = [row for row in f.rows if row.ts >= horizon]  # a backfill of old history stays quiet
        if recent:
            by_service[f.series.service_id].append(Found(series=f.series, rows=recent))
    for group in by_service.values():
        if len(group) >= 2 or any(row.multivariate for f in group for row in f.rows):
            signals.append(_multivariate_signal(group))
            rows = [row for f in group for row in f.rows]
            for row in rows:
                row.multivariate = True
            targets.append(rows)
            continue
        f = group[0]
        for direction in (Direction.UP, Direction.DOWN):
            rows = [row for row in f.rows if row.direction == direction]
            if rows:
                signals.append(_series_signal(f.series, direction, rows))
                targets.append(rows)
    for s in series:
        if s.open_direction and s.normal_streak >= RESOLVE_AFTER_NORMAL:
            signals.append(SignalIn(
                source_kind=SOURCE_KIND, source_name="anomaly-detector", service=s.service.name,
                title=f"{s.metric} back to normal on {s.service.name}",
                fingerprint=series_fingerprint(s, s.open_direction), status="resolved",
                labels={"metric": s.metric, "direction": s.open_direction},
            ))
            targets.append([])
            s.open_direction = ""
            MetricSeries.objects.filter(pk=s.pk).update(open_direction="")
    if not signals:
        return 0, []
    try:
        results = incident_services.signals_ingest(signals=signals)
    except InvalidSignal:
        logger.exception("anomaly signals rejected by the incident core")
        return 0, []
    for rows, result in zip(targets, results, strict=False):
        if rows:
            Anomaly.objects.filter(series_id__in={r.series_id for r in rows}, ts__in=[r.ts for r in rows]).update(
                alert_id=result.alert_id, incident_id=result.incident_id, multivariate=rows[0].multivariate,
            )
    return len(signals), [r.outcome for r in results]


def _labels(series: MetricSeries) -> dict[str, str]:
    labels = {f"{ANOMALY_LABEL_PREFIX}{k}": str(v) for k, v in series.labels.items()}
    labels.update(metric=series.metric, kind=series.kind)
    return labels


def _kpis(series_list: list[MetricSeries]) -> list[str]:
    return [s.metric for s in series_list if s.kind in (SeriesKind.BUSINESS, SeriesKind.MODEL)]


def _series_signal(series: MetricSeries, direction: str, rows: list[Anomaly]) -> SignalIn:
    worst = max(rows, key=lambda r: r.score)
    last = rows[-1]
    word = "above" if direction == Direction.UP else "below"
    return SignalIn(
        source_kind=SOURCE_KIND, source_name=last.detector, service=series.service.name,
        title=f"{series.metric} {word} expected on {series.service.name}",
        fingerprint=series_fingerprint(series, direction),
        description="; ".join(worst.reasons),
        labels={**_labels(series), "direction": direction},
        occurred_at=last.ts,
        payload={
            "series_id": series.pk, "metric": series.metric, "labels": series.labels, "direction": direction,
            "points": len(rows), "detector": last.detector,
            "last": {"ts": last.ts.isoformat(), "value": last.value, "score": last.score, "expected": last.expected,
                     "lower": last.lower, "upper": last.upper},
            "max_score": worst.score,
        },
        links=[_series_link(series)],
        kpis=_kpis([series]),
    )


def _multivariate_signal(group: list[Found]) -> SignalIn:
    service = group[0].series.service
    parts = []
    for f in group:
        worst = max(f.rows, key=lambda r: r.score)
        parts.append({
            "series_id": f.series.pk, "metric": f.series.metric, "labels": f.series.labels,
            "direction": worst.direction, "score": worst.score, "value": worst.value, "expected": worst.expected,
            "ts": worst.ts.isoformat(),
        })
    parts.sort(key=lambda p: -p["score"])
    names = ", ".join(sorted({p["metric"] for p in parts}))
    last_ts = max(row.ts for f in group for row in f.rows)
    return SignalIn(
        source_kind=SOURCE_KIND, source_name="anomaly-detector", service=service.name,
        title=f"{len(group)} metrics anomalous together on {service.name}: {names}"[:250],
        fingerprint=service_fingerprint(service.pk),
        description="; ".join(f"{p['metric']} {p['direction']} (score {p['score']:.2f})" for p in parts[:10]),
        labels={"multivariate": "true", "metrics": str(len(group))},
        occurred_at=last_ts,
        payload={"series": parts},
        links=[_series_link(f.series) for f in group[:5]],
        kpis=_kpis([f.series for f in group]),
    )
