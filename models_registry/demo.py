"""Demo step: register the journey-time and stuck-journey models and train a first champion of each."""
from __future__ import annotations

from datetime import UTC, datetime

from core.models import Service, Team
from core.services import team_get_or_create

from . import selectors, services
from .choices import TrainingTrigger
from .models import RegisteredModel

# The demo trains on Feb 2013 and holds out the last week; a month of flights trains in a few seconds.
DEMO_AS_OF = datetime(2013, 3, 1, tzinfo=UTC)
DEMO_PARAMS = {"train_window_days": 28, "holdout_days": 7}

MODELS = (
    {
        "name": "journey-time",
        "pipeline": "flights.journey_time",
        "purpose": "Forecast how late a journey (flight) arrives, in minutes, from what is known before departure.",
        "business_kpi": "Call-centre contacts from late journeys; lost sales from pessimistic ETAs",
    },
    {
        "name": "stuck-journey",
        "pipeline": "flights.stuck_journey",
        "purpose": "Flag journeys likely to arrive more than 60 minutes late or be cancelled.",
        "business_kpi": "Stuck journeys caught within the alert team's daily budget",
    },
)


def register_reference_models() -> list[RegisteredModel]:
    team = Team.objects.filter(name="Data Science").first() or team_get_or_create(name="Data Science")
    service = Service.objects.filter(name="journey-eta-model").first()
    return [
        services.registered_model_get_or_create(team=team, service=service, **spec) for spec in MODELS
    ]


def run(stdout) -> None:
    """Models: register journey-time and stuck-journey, train a first champion of each (Feb 2013)."""
    for model in register_reference_models():
        if selectors.model_champion(model=model) is not None:
            stdout.write(f"  model {model.name}: champion already trained")
            continue
        run = services.training_run_create(
            model=model, as_of=DEMO_AS_OF, params=DEMO_PARAMS, trigger=TrainingTrigger.DEMO, enqueue=False
        )
        outcome = services.training_run_execute(run_id=run.pk)
        if outcome.decision is None or outcome.version is None:
            stdout.write(f"  model {model.name}: training failed: {outcome.run.error}")
            continue
        stdout.write(
            f"  model {model.name}: v{outcome.version.version} {outcome.decision.decision} "
            f"({', '.join(f'{k}={v:.3g}' for k, v in outcome.version.metrics.items() if k != 'n')})"
        )
