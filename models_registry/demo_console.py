"""Demo step for the ops console (issue 12): a model incident, so the incident page shows its `model` panel."""
from __future__ import annotations

from incidents.contracts import SignalIn
from incidents.services import signal_ingest

from .models import MonitorResult, RegisteredModel

FINGERPRINT = "demo-console:journey-time:performance"  # fixed: loading the demo again deduplicates


def run(stdout) -> None:
    """Console: the journey-time model's monitor raises an alert (its incident page shows the model panel)."""
    model = RegisteredModel.objects.filter(name="journey-time").select_related("service").first()
    if model is None or model.service is None or not MonitorResult.objects.filter(model=model).exists():
        stdout.write("  console demo needs the model monitors demo")
        return
    result = signal_ingest(signal=SignalIn(
        source_kind="model", source_name="model-monitors", service=model.service.name, fingerprint=FINGERPRINT,
        title="journey-time: too-optimistic share above the bar for 2 weeks", severity_hint="warning",
        labels={"model": model.name, "monitor": "performance", "demo": "console"},
        description="Late arrivals predicted early: see the model's weekly performance.",
    ))
    stdout.write(f"  model alert {result.outcome}: incident #{result.incident_id} shows the model panel")
