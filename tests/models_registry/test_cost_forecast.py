"""Monthly cost forecasts: the documented choice of method, and a rising cost crossing its budget."""
from __future__ import annotations

from decimal import Decimal

import pytest

from incidents.models import Incident
from models_registry.models import ModelEconomics, ServiceBudget
from models_registry.services.costs import CostOwner, month_add
from models_registry.services.forecasts import budget_forecasts_check, cost_forecast, forecaster_choose

from .cost_fixtures import add_cost, month


def _ledger(*, model=None, service=None, costs) -> None:
    start = month(2012, 1)
    for i, amount in enumerate(costs):
        add_cost(model=model, service=service, start=month_add(start, i), end=month_add(start, i + 1), amount=amount)


RISING = [100 + 10 * i + (2 if i % 2 else -2) for i in range(12)]  # +10 a month, small wobble; Dec 2012 = 212


@pytest.mark.parametrize(("months", "method"), [(3, None), (4, "ets"), (23, "ets"), (24, "arima")])
def test_the_method_follows_the_documented_rule(months, method):
    chosen = forecaster_choose(months)
    assert (chosen.name if chosen else None) == method


def test_a_rising_cost_is_forecast_to_cross_its_budget_before_it_is_spent(journey_model):
    _ledger(model=journey_model, costs=RISING)
    ModelEconomics.objects.create(model=journey_model, monthly_budget=Decimal("235"))
    forecast = cost_forecast(owner=CostOwner(model=journey_model), as_of=month(2013, 1, 3))
    assert forecast.method == "ets" and [f"{m:%Y-%m}" for m in forecast.months] == ["2013-01", "2013-02", "2013-03"]
    assert forecast.mean[0] == pytest.approx(220, abs=6) and forecast.mean[2] == pytest.approx(240, abs=8)
    assert all(lo <= mean <= up for lo, mean, up in zip(forecast.lower, forecast.mean, forecast.upper, strict=True))
    # Nothing spent over budget yet (Dec: 212 < 235); the mean crosses in March (~240), and so does the bound.
    assert forecast.upper[1] < 235 < forecast.upper[2] and forecast.breach_month == month(2013, 3)
    (finding,) = budget_forecasts_check(as_of=month(2013, 1, 3))
    assert finding.kind == "budget_forecast" and finding.outcome == "opened"
    assert Incident.objects.get().severity == 3


def test_a_flat_cost_under_budget_raises_nothing(make_service):
    service = make_service("reporting-batch")
    _ledger(service=service, costs=[50, 52, 49, 51, 50, 50, 51, 49])
    ServiceBudget.objects.create(service=service, monthly_budget=Decimal("80"))
    forecast = cost_forecast(owner=CostOwner(service=service), as_of=month(2012, 9))
    assert forecast.method == "ets" and max(forecast.upper) < 80 and forecast.breach_month is None
    assert budget_forecasts_check(as_of=month(2012, 9)) == []
    assert not Incident.objects.exists()


def test_two_years_of_history_use_arima_and_too_little_gives_no_forecast(journey_model, make_service):
    _ledger(model=journey_model, costs=[100 + 5 * i + (3 if i % 3 == 0 else 0) for i in range(30)])
    forecast = cost_forecast(owner=CostOwner(model=journey_model), as_of=month(2014, 7))
    assert forecast.method == "arima" and forecast.mean[0] == pytest.approx(250, abs=15)
    service = make_service()
    _ledger(service=service, costs=[10, 12])
    short = cost_forecast(owner=CostOwner(service=service), as_of=month(2012, 3))
    assert short.method == "" and "needs 4" in short.note and short.months == []
