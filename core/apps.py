from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Organisation"

    def ready(self) -> None:
        from . import schema  # noqa: F401  registers the OpenAPI auth extensions
