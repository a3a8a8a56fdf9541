from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # Root cause (issue 13): incidents asks registered providers for anomaly evidence, never monitoring.
        from incidents.services.rootcause.evidence import evidence_provider_register

        from . import panels  # noqa: F401  (registration side effect: the incident page's "anomalies" panel)
        from .services.evidence import anomaly_evidence

        evidence_provider_register("monitoring.anomalies")(anomaly_evidence)
