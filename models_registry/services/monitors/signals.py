"""Stored monitor results as signals into the incident core: a breach fires, the first recovery resolves."""
from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from django.conf import settings

import incidents.services as incident_services
from incidents.contracts import SignalIn

from ...choices import MonitorKind, MonitorStatus
from ...models import MonitorResult, MonitorRun, RegisteredModel

logger = logging.getLogger(__name__)

SIGNAL_SOURCE = "model-monitor"
# Kinds whose breach means the business is being told wrong things right now: page high.
HIGH_SEVERITY_KINDS = {MonitorKind.PERFORMANCE, MonitorKind.OPERATIONAL, MonitorKind.OUTPUT_QUALITY}
SIGNAL_ORDER = (
    MonitorKind.PERFORMANCE, MonitorKind.OPERATIONAL, MonitorKind.OUTPUT_QUALITY, MonitorKind.FRESHNESS,
    MonitorKind.DATA_QUALITY, MonitorKind.AT_RISK_PRECISION, MonitorKind.PREDICTION_DRIFT, MonitorKind.BIAS,
    MonitorKind.DATA_DRIFT,
)


def _previous_status(*, result: MonitorResult) -> str | None:
    previous = (
        MonitorResult.objects.filter(model=result.model, kind=result.kind, run__period_end__lte=result.period_end)
        .exclude(pk=result.pk)
        .exclude(run_id=result.run_id)
        .exclude(status=MonitorStatus.NO_DATA)
        .order_by("-period_end", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return previous


def result_signal_raise(*, result: MonitorResult, run: MonitorRun) -> None:
    """Breach → firing signal; first non-breach after a breach → resolved signal (same fingerprint)."""
    if result.status == MonitorStatus.BREACH:
        status = "firing"
    elif (
        result.status in (MonitorStatus.OK, MonitorStatus.WARNING)
        and _previous_status(result=result) == MonitorStatus.BREACH
    ):
        # No longer breaching (a warning does not page either): let the core resolve the alert.
        status = "resolved"
    else:
        return
    if run.model.service is None:
        MonitorResult.objects.filter(pk=result.pk).update(
            reasons=[*result.reasons, "no signal raised: the model has no service to raise it against"]
        )
        return
    try:
        signal = _signal_build(result=result, run=run, status=status, service=run.model.service.name)
        outcome = incident_services.signal_ingest(signal=signal)
    except Exception as exc:  # the incident core refused it: keep the monitor result, say why
        logger.exception("monitor result %s: signal not raised", result.pk)
        MonitorResult.objects.filter(pk=result.pk).update(
            signal_outcome="error", reasons=[*result.reasons, f"signal not raised: {exc}"]
        )
        return
    MonitorResult.objects.filter(pk=result.pk).update(
        signal_outcome=outcome.outcome, alert_id=outcome.alert_id, incident_id=outcome.incident_id
    )


def _signal_build(*, result: MonitorResult, run: MonitorRun, status: str, service: str) -> SignalIn:
    model, version = run.model, run.version
    kind_label = MonitorKind(result.kind).label.lower()
    return SignalIn(
        source_kind="model",
        source_name=SIGNAL_SOURCE,
        service=service,
        title=f"Model {model.name} v{version.version}: {kind_label} "
              f"{'breach' if status == 'firing' else 'back to normal'}",
        # One alert per model and monitor kind: the next breach of the same kind joins it.
        fingerprint=f"{SIGNAL_SOURCE}:{model.name}:{result.kind}",
        description="\n".join(result.reasons),
        labels={"model": model.name, "version": str(version.version), "monitor": result.kind},
        severity_hint="high" if result.kind in HIGH_SEVERITY_KINDS else "warning",
        status=status,
        payload={
            "model": model.name, "version": version.version, "monitor": result.kind, "status": result.status,
            "period_start": run.period_start.isoformat(), "period_end": run.period_end.isoformat(),
            "metrics": json_safe(result.metrics),
        },
        links=[{"href": f"{settings.SITE_URL}/models/{model.name}/", "text": f"Model {model.name}"}],
        kpis=[model.business_kpi] if model.business_kpi else [],
    )


def monitor_alerts_resolve(*, model: RegisteredModel, reason: str) -> int:
    """Resolve the model's monitor alerts in the incident core (e.g. before its history is deleted)."""
    if model.service is None:
        return 0
    kinds = set(
        MonitorResult.objects.filter(model=model).exclude(signal_outcome="").values_list("kind", flat=True)
    )
    resolved = 0
    for kind in sorted(kinds):
        try:
            incident_services.signal_ingest(signal=SignalIn(
                source_kind="model", source_name=SIGNAL_SOURCE, service=model.service.name,
                title=f"Model {model.name}: {MonitorKind(kind).label.lower()} alert closed",
                fingerprint=f"{SIGNAL_SOURCE}:{model.name}:{kind}", description=reason, status="resolved",
                labels={"model": model.name, "monitor": kind},
            ))
            resolved += 1
        except Exception:  # the core refused: nothing else to do, the alert stays for a person to close
            logger.exception("could not resolve the %s alert of %s", kind, model.name)
    return resolved


def json_safe(value: Any) -> Any:
    """NaN/inf become null: PostgreSQL's jsonb rejects them (and so do strict JSON clients)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
