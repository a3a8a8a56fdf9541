"""Monthly cost forecasts of models and services with an 80 % interval, and the budget check that raises
a signal when the interval's upper bound crosses the budget (before the money is spent).

Which forecaster (documented rule, `forecaster_choose`):
- fewer than MIN_MONTHS complete months: no forecast (a trend needs points to stand on);
- fewer than ARIMA_MIN_MONTHS: ETS(A,A,N), Holt's additive-trend exponential smoothing — few parameters,
  sensible on short ledgers, intervals from its state-space form;
- from ARIMA_MIN_MONTHS on: ARIMA(1,1,0) with drift — two years is enough to estimate autocorrelation
  that smoothing ignores (e.g. quarterly commitments).
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings

from core.models import Service

from ..models import ModelEconomics, RegisteredModel, ServiceBudget
from .cost_signals import CostFinding, cost_signal_raise
from .costs import CostOwner, month_add, month_start, monthly_costs

INTERVAL = 0.80  # the 80 % interval: one month in ten above the upper bound by chance
MIN_MONTHS = 4  # ETS with a trend estimates 4 parameters; fewer points over-fit
ARIMA_MIN_MONTHS = 24  # two years of months before autocorrelation estimates mean anything
HISTORY_MONTHS = 36  # older spend says little about next quarter's
HORIZON_MONTHS = 3  # a quarter ahead: time to act before the money is spent


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastPath:
    mean: list[float]
    lower: list[float]
    upper: list[float]


class CostForecaster(ABC):
    name: str

    @abstractmethod
    def forecast(self, values: np.ndarray, *, horizon: int) -> ForecastPath: ...


class EtsForecaster(CostForecaster):
    name = "ets"

    def forecast(self, values: np.ndarray, *, horizon: int) -> ForecastPath:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        # A pandas series: statsmodels 0.15's ETS prediction frame needs an index.
        fit = ETSModel(pd.Series(values.astype(float)), error="add", trend="add").fit(disp=False)
        frame = fit.get_prediction(start=len(values), end=len(values) + horizon - 1).summary_frame(alpha=1 - INTERVAL)
        return ForecastPath(mean=[float(v) for v in frame["mean"]], lower=[float(v) for v in frame["pi_lower"]],
                            upper=[float(v) for v in frame["pi_upper"]])


class ArimaForecaster(CostForecaster):
    name = "arima"

    def forecast(self, values: np.ndarray, *, horizon: int) -> ForecastPath:
        from statsmodels.tsa.arima.model import ARIMA

        fit = ARIMA(values.astype(float), order=(1, 1, 0), trend="t").fit()
        result = fit.get_forecast(steps=horizon)
        interval = np.asarray(result.conf_int(alpha=1 - INTERVAL))
        return ForecastPath(mean=[float(v) for v in np.asarray(result.predicted_mean)],
                            lower=[float(v) for v in interval[:, 0]], upper=[float(v) for v in interval[:, 1]])


FORECASTERS: dict[str, CostForecaster] = {f.name: f for f in (EtsForecaster(), ArimaForecaster())}


def forecaster_choose(months: int) -> CostForecaster | None:
    if months < MIN_MONTHS:
        return None
    return FORECASTERS["ets"] if months < ARIMA_MIN_MONTHS else FORECASTERS["arima"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CostForecast:
    owner: str
    method: str  # "ets" | "arima" | "" (not enough history)
    history: list[tuple[datetime, float]]
    months: list[datetime]
    mean: list[float]
    lower: list[float]
    upper: list[float]
    budget: float | None
    note: str = ""

    @property
    def breach_month(self) -> datetime | None:
        """The first forecast month whose upper bound is over the budget."""
        if self.budget is None:
            return None
        return next((m for m, up in zip(self.months, self.upper, strict=True) if up > self.budget), None)

    def as_dict(self) -> dict:
        return {
            "method": self.method, "note": self.note, "budget": self.budget,
            "breach_month": f"{self.breach_month:%Y-%m}" if self.breach_month else None,
            "history": [{"month": f"{m:%Y-%m}", "cost": round(c, 2)} for m, c in self.history],
            "forecast": [
                {"month": f"{m:%Y-%m}", "mean": round(a, 2), "lower": round(lo, 2), "upper": round(up, 2)}
                for m, a, lo, up in zip(self.months, self.mean, self.lower, self.upper, strict=True)
            ],
        }


def _budget(owner: CostOwner) -> Decimal | None:
    if owner.model is not None:
        return ModelEconomics.objects.filter(model=owner.model).values_list("monthly_budget", flat=True).first()
    return ServiceBudget.objects.filter(service=owner.service).values_list("monthly_budget", flat=True).first()


def cost_forecast(*, owner: CostOwner, as_of: datetime, horizon: int = HORIZON_MONTHS) -> CostForecast:
    """Forecast the months from as_of's month on, from the complete months before it (gaps count as 0
    between the first and the last month with cost)."""
    first_forecast = month_start(as_of)
    start = month_add(first_forecast, -HISTORY_MONTHS)
    costs = monthly_costs(owner=owner, start=start, end=first_forecast)
    budget = _budget(owner)
    months = [month_add(first_forecast, i) for i in range(horizon)]
    history: list[tuple[datetime, float]] = []
    if costs:
        current = min(costs)
        while current < first_forecast:
            history.append((current, round(sum(costs.get(current, {}).values()), 2)))
            current = month_add(current, 1)
    forecaster = forecaster_choose(len(history))
    budget_value = float(budget) if budget is not None else None
    if forecaster is None:
        return CostForecast(owner=owner.label, history=history, months=[], budget=budget_value, method="",
                            mean=[], lower=[], upper=[],
                            note=f"{len(history)} month(s) of cost; a forecast needs {MIN_MONTHS}")
    values = np.array([c for _, c in history])
    # Convergence chatter on short, smooth ledgers is expected; statsmodels forces such warnings back on,
    # so they are recorded (and dropped) rather than filtered.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        path = forecaster.forecast(values, horizon=horizon)
    clip = [max(v, 0.0) for v in path.lower]  # spending is never negative
    return CostForecast(owner=owner.label, history=history, months=months, budget=budget_value,
                        method=forecaster.name, mean=[max(v, 0.0) for v in path.mean], lower=clip,
                        upper=[max(v, 0.0) for v in path.upper])


def budget_forecasts_check(*, as_of: datetime) -> list[CostFinding]:
    """Every model and service with a budget: an upper bound over it raises a Level 3 signal."""
    owners: list[tuple[CostOwner, Service | None]] = [
        (CostOwner(model=e.model), e.model.service)
        for e in ModelEconomics.objects.filter(monthly_budget__isnull=False).select_related("model__service")
    ]
    owners += [(CostOwner(service=b.service), b.service) for b in ServiceBudget.objects.select_related("service")]
    findings = []
    for owner, service in owners:
        forecast = cost_forecast(owner=owner, as_of=as_of)
        month = forecast.breach_month
        if month is None or forecast.budget is None:
            continue
        index = forecast.months.index(month)
        name = owner.model.name if owner.model else str(owner.service)
        findings.append(cost_signal_raise(
            kind="budget_forecast", owner=owner.label, service=service,
            title=f"Cost forecast for {owner.label} may exceed its budget in {month:%Y-%m}: up to "
                  f"{forecast.upper[index]:.2f} vs {forecast.budget:.2f} {settings.COST_CURRENCY}",
            details=f"{forecast.method.upper()} forecast {forecast.mean[index]:.2f} "
                    f"({INTERVAL:.0%} interval {forecast.lower[index]:.2f}–{forecast.upper[index]:.2f})",
            labels={"model" if owner.model else "service": name}, href="/models/roi/",
            payload=forecast.as_dict(),
        ))
    return findings


def model_forecast(*, model: RegisteredModel, as_of: datetime) -> CostForecast:
    return cost_forecast(owner=CostOwner(model=model), as_of=as_of)
