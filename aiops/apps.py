from django.apps import AppConfig


class AiopsConfig(AppConfig):
    name = "aiops"
    verbose_name = "AIOps"

    def ready(self) -> None:
        from . import reports  # noqa: F401  (registration side effect: every report by name)
