"""App config of models_registry: registers its playbook actions with the incident core."""
from django.apps import AppConfig


class ModelsRegistryConfig(AppConfig):
    name = "models_registry"
    verbose_name = "Models"

    def ready(self) -> None:
        from . import (
            actions,  # noqa: F401  (registration side effect: retrain_model, rollback_model)
            panels,  # noqa: F401  (registration side effect: the incident page's "model" panel)
        )
