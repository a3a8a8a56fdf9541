"""Business value, cost per prediction and ROI on hand-computed cases; money signals; the ROI report."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from core.choices import Role
from incidents.models import Incident
from models_registry.models import ModelEconomics
from models_registry.reports import roi_report
from models_registry.services.roi import cost_spikes_check, model_roi_by_month, roi_targets_check

from .cost_fixtures import add_cost, log_predictions, month


@pytest.fixture
def journey(journey_model, make_model_version):
    """Feb 2013: 2 accurate forecasts, cost 4. Mar 2013: 5 accurate (one exactly at the tolerance),
    1 too optimistic, 1 too conservative, 1 without actual; cost 8."""
    version = make_model_version(journey_model)
    ModelEconomics.objects.create(model=journey_model, tolerance=15, value_accurate=Decimal("5"),
                                  cost_optimistic=Decimal("10"), cost_conservative=Decimal("4"), roi_target=0.5)
    feb, mar = month(2013, 2, 10), month(2013, 3, 10)
    log_predictions(journey_model, version, [(feb, 10, 12), (feb, 30, 20)])
    log_predictions(journey_model, version, [
        (mar, 10, 20), (mar, 10, 25), (mar, 30, 30), (mar, 0, 0), (mar, 5, 1),  # accurate (25 is at tolerance)
        (mar, 10, 40),  # actual 30 minutes later than forecast: too optimistic
        (mar, 50, 20),  # 30 minutes earlier: too conservative
        (mar, 10, None),  # no actual yet: counts for cost per prediction only
    ])
    add_cost(model=journey_model, start=month(2013, 2), end=month(2013, 3), amount=4)
    add_cost(model=journey_model, start=month(2013, 3), end=month(2013, 4), amount=6)
    add_cost(model=journey_model, start=month(2013, 3), end=month(2013, 4), amount=2, category="data.storage")
    return journey_model


def test_regression_value_cost_per_prediction_and_roi_by_month(journey):
    feb, mar = model_roi_by_month(model=journey, start=month(2013, 1), end=month(2013, 4))
    assert (feb.value, feb.cost, feb.roi) == (10.0, 4.0, 1.5)
    assert mar.outcomes == {"accurate": 5, "optimistic": 1, "conservative": 1}
    assert (mar.predictions, mar.labelled) == (8, 7)
    assert mar.value == 5 * 5 - 10 - 4  # 11
    assert mar.cost == 8.0 and mar.cost_by_category == {"data.storage": 2.0, "infrastructure.compute": 6.0}
    assert mar.roi == pytest.approx((11 - 8) / 8)
    assert mar.cost_per_prediction == pytest.approx(1.0)


def test_classification_value_matrix(stuck_model, make_model_version):
    version = make_model_version(stuck_model)
    ModelEconomics.objects.create(model=stuck_model, threshold=0.5, value_tp=Decimal("100"),
                                  value_fp=Decimal("-20"), value_fn=Decimal("-50"), value_tn=Decimal("0"))
    at = month(2013, 3, 5)
    log_predictions(stuck_model, version, [
        (at, 0.9, 1), (at, 0.5, 1),  # TP (a score at the threshold flags)
        (at, 0.6, 0), (at, 0.2, 1), (at, 0.1, 0), (at, 0.7, None),  # FP, FN, TN, unlabelled
    ])
    add_cost(model=stuck_model, start=month(2013, 3), end=month(2013, 4), amount=100)
    (row,) = model_roi_by_month(model=stuck_model, start=month(2013, 3), end=month(2013, 4))
    assert row.outcomes == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    assert row.value == 2 * 100 - 20 - 50
    assert row.roi == pytest.approx(0.3)
    assert row.cost_per_prediction == pytest.approx(100 / 6)


def test_a_month_under_the_roi_target_raises_a_level_3_signal(journey):
    assert roi_targets_check(month=month(2013, 2)) == []  # 150 % ≥ 50 %
    (finding,) = roi_targets_check(month=month(2013, 3))  # 37.5 % < 50 %
    assert finding.kind == "roi_below_target" and finding.outcome == "opened"
    incident = Incident.objects.get()
    assert incident.severity == 3 and "ROI 38%" in incident.title


def test_a_cost_spike_raises_a_level_3_signal_a_normal_month_does_not(journey_model):
    for m, amount in ((1, 100), (2, 90), (3, 110), (4, 140), (5, 200)):
        add_cost(model=journey_model, start=month(2013, m), end=month(2013, m + 1), amount=amount)
    assert cost_spikes_check(month=month(2013, 4)) == []  # 140 ≤ 1.5 x median(100, 90, 110)
    (finding,) = cost_spikes_check(month=month(2013, 5))  # 200 > 1.5 x median(90, 110, 140)
    assert finding.kind == "cost_spike" and finding.outcome == "opened"
    assert Incident.objects.get().severity == 3


def test_roi_report_numbers_on_a_fixed_dataset(journey, stuck_model):
    report = roi_report(start=date(2013, 2, 1), end=date(2013, 4, 1))
    row = next(m for m in report.models if m.model == "journey-time")
    assert (row.cost, row.value, row.predictions, row.labelled) == (12.0, 21.0, 10, 9)
    assert row.roi == pytest.approx(0.75) and row.target_met is True
    assert row.cost_per_prediction == pytest.approx(1.2)
    assert row.cost_by_category == {"data.storage": 2.0, "infrastructure.compute": 10.0}
    march_only = roi_report(start=date(2013, 3, 1), end=date(2013, 4, 1))
    mrow = next(m for m in march_only.models if m.model == "journey-time")
    assert mrow.roi == pytest.approx(0.375) and mrow.target_met is False
    assert mrow.roi_to_date == pytest.approx((21 - 12) / 12)
    # Reproducible, JSON-serialisable, and the CSV carries the same figures.
    again = roi_report(start=date(2013, 2, 1), end=date(2013, 4, 1))
    assert json.dumps(report.as_dict()) == json.dumps(again.as_dict())
    rows = report.csv_rows()
    total = next(r for r in rows if r[:2] == ["journey-time", "total"])
    assert total[rows[0].index("roi")] == "0.75" and total[rows[0].index("cost")] == "12.0"


def test_roi_report_api_and_page(journey, client_as, client):
    api = client_as(Role.EXECUTIVE)
    body = api.get("/api/v1/roi-report?start=2013-02&end=2013-04").json()
    assert body["models"][0]["model"] == "journey-time" and body["models"][0]["roi"] == 0.75
    refused = api.get("/api/v1/roi-report?start=yesterday&end=2013-04")
    assert refused.status_code == 400 and refused.json()["field"] == "start"
    assert api.get("/api/v1/roi-report?start=2013-04&end=2013-02").json()["field"] == "end"
    default = api.get("/api/v1/roi-report").json()  # the twelve months up to the latest data: to March 2013
    assert (default["start"], default["end"]) == ("2012-04-01T00:00:00+00:00", "2013-04-01T00:00:00+00:00")
    from django.contrib.auth.models import Group, User
    user = User.objects.create_user("mgr", password="x")
    user.groups.add(Group.objects.get(name=Role.MANAGER))
    client.force_login(user)
    page = client.get("/models/roi/?start=2013-02&end=2013-04")
    assert page.status_code == 200 and b"journey-time" in page.content and b"roi-data" in page.content
    exported = client.get("/models/roi/csv?start=2013-02&end=2013-04")
    assert list(csv.reader(io.StringIO(exported.content.decode())))[0][0] == "model"
    assert client.get("/models/roi/?start=13-2013").status_code == 400


def test_the_monthly_pass_judges_the_last_complete_month(journey):
    from models_registry.services.money import money_checks_run

    check = money_checks_run(now=month(2013, 4, 2))
    assert f"{check.month:%Y-%m}" == "2013-03"
    # March: ROI 37.5 % under its 50 % target, and 8 of cost against February's 4 (over 1.5x): a spike.
    assert [f.kind for f in check.findings] == ["roi_below_target", "cost_spike"]


def test_the_roi_report_in_the_report_framework_gives_the_same_figures(journey, stuck_model):
    """`manage.py report roi`, the /reports/roi/ page, its CSV and API are the framework's `roi` report."""
    from io import StringIO

    from django.core.management import call_command

    from aiops.reports import report_run

    result = report_run(name="roi", period="2013-02-01..2013-03-31")
    row = next(r for r in result.tables[0].rows if r[0] == "journey-time")
    assert row[2] == 12.0 and row[4] == 21.0 and row[5] == pytest.approx(0.75)
    assert result.figure("cost_total") >= 12.0
    out = StringIO()
    call_command("report", "roi", "--period", "2013-02-01..2013-03-31", stdout=out)
    assert "journey-time" in out.getvalue()
