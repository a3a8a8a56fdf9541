from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from . import panels  # noqa: F401  (registration side effect: the incident page's "anomalies" panel)
