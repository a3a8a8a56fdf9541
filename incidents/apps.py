"""App config of incidents: registers the built-in playbook actions and the incident page panels."""
from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        # The built-in actions call services (escalation, silences), so the services that run
        # playbook steps look actions up by name instead of importing them.
        from . import panels_learning  # noqa: F401  (registration side effect: the cost and review panels)
        from .playbooks import builtin  # noqa: F401  (registration side effect: silence_for, escalate_now, call_webhook)

        # Issue 13: probable root cause and similar past incidents on the incident page.
        from .services import similar  # noqa: F401  (registration side effect: "similar" panel)
        from .services.rootcause import panel  # noqa: F401  (registration side effect: "rootcause" panel)
