"""Reports on a fixed November 2026: every report's numbers by hand, reproducible, as page, CSV, JSON, command
and e-mail; bad periods are a 400 naming `period`."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from aiops.reports import ReportResult, period_parse, report_register, report_run
from aiops.reports.base import _REPORTS
from aiops.reports.emails import report_email_send, report_subscription_set
from core.choices import Role
from core.exceptions import DomainError
from incidents.choices import ActionItemStatus, Effectiveness, ReviewStatus, TimelineKind
from incidents.models import ActionItem, Delivery, IncidentCost, PostIncidentReview, TimelineEvent

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def november(make_service, make_incident, make_user):
    """Four incidents: L1 and L2 of the same fault on `disk`, an open L3 and a resolved L4 on `api`."""
    disk, api = make_service("disk"), make_service("api")
    owner = make_user(Role.OPERATOR, username="owner")
    m = timedelta(minutes=1)
    inc1 = make_incident(severity=1, service=disk, opened_at=at(2, 10), acknowledged_at=at(2, 10) + 10 * m,
                         resolved_at=at(2, 10) + 70 * m, alert_count=5, labels={"alertname": "DiskFull"})
    inc2 = make_incident(severity=2, service=disk, opened_at=at(3, 9), acknowledged_at=at(3, 9) + 20 * m,
                         resolved_at=at(3, 9) + 130 * m, alert_count=3, labels={"alertname": "DiskFull"})
    make_incident(severity=3, service=api, opened_at=at(10, 12), acknowledged_at=at(10, 12) + 30 * m,
                  alert_count=12, labels={"alertname": "Latency"})
    make_incident(severity=4, service=api, opened_at=at(20, 8), resolved_at=at(20, 9), alert_count=1,
                  labels={"alertname": "Cert"})
    TimelineEvent.objects.create(incident=inc1, kind=TimelineKind.ESCALATED, at=at(2, 10, 5), message="step 1")
    IncidentCost.objects.create(incident=inc1, currency="USD", downtime=Decimal("700"), response=Decimal("300"),
                                total=Decimal("1000"), frozen_at=at(4))
    r1 = PostIncidentReview.objects.create(
        incident=inc1, status=ReviewStatus.PUBLISHED, impact_start=at(2, 9, 50), users_affected=120,
        contributing_factors=[{"category": "configuration", "text": ""}, {"category": "capacity", "text": ""}],
        due_date=date(2026, 11, 9), published_at=at(5, 12))
    r2 = PostIncidentReview.objects.create(incident=inc2, contributing_factors=[{"category": "configuration",
                                                                                 "text": ""}],
                                           due_date=date(2026, 11, 6))
    ActionItem.objects.create(review=r1, title="A", owner=owner, due_date=date(2026, 11, 10),
                              status=ActionItemStatus.DONE, completed_at=at(8, 15), effectiveness=Effectiveness.HELD)
    ActionItem.objects.create(review=r1, title="B", owner=owner, due_date=date(2026, 11, 15),
                              status=ActionItemStatus.DONE, completed_at=at(20, 15),
                              effectiveness=Effectiveness.RECURRED)
    ActionItem.objects.create(review=r2, title="C", owner=owner, due_date=date(2026, 11, 25))
    ActionItem.objects.create(review=r2, title="D", owner=owner, due_date=date(2026, 11, 12),
                              status=ActionItemStatus.CANCELLED)
    return inc1, inc2


def rows(result, key):
    return {row[0]: row[1:] for row in result.table(key).rows}


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-11", at(1), datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-W45", at(2), at(9)),
    ("2026-11-05", at(5), at(6)),
    ("2026-11-01..2026-11-30", at(1), datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_periods_parse(text, start, end):
    period = period_parse(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", [
    "2026-13", "November", "2026-W60", "2026-11-30..2026-11-01", "2020-01-01..2026-01-01"])
def test_a_bad_period_names_the_field(text):
    with pytest.raises(DomainError) as info:
        period_parse(text)
    assert info.value.field == "period"


def test_operations_report(november):
    result = report_run(name="operations", period="2026-11")
    levels = rows(result, "levels")
    # opened, open at end, acknowledged, resolved, MTTA, MTTR, MTTD, escalations
    assert levels["L1 Critical"] == (1, 0, 1, 1, 10.0, 70.0, 10.0, 1)  # MTTD from the review's impact start
    assert levels["L2 High"] == (1, 0, 1, 1, 20.0, 130.0, 0.0, 0)
    assert levels["L3 Medium"] == (1, 1, 1, 0, 30.0, None, 0.0, 0)
    assert levels["L4 Low"] == (1, 0, 0, 1, None, 60.0, 0.0, 0)
    assert result.figure("opened") == 4 and result.figure("open_at_end") == 1
    assert result.figure("mtta_minutes") == 20.0 and result.figure("mttr_minutes") == 86.7
    assert result.figure("signals") == 21 and result.figure("noise_reduction") == 81.0  # 1 - 4/21
    assert [r[0] for r in result.table("noisy").rows] == ["api", "disk"]  # 13 signals, then 8
    assert len(result.table("trend").rows) == 30 and rows(result, "trend")["2026-11-02"] == (1, 10.0, 70.0)
    assert any(term.startswith("MTTD") for term, _ in result.definitions)


def test_business_impact_report(november):
    result = report_run(name="business_impact", period="2026-11-02")
    assert result.figure("incidents_opened") == 1 and result.figure("cost_total") == "1000.00"
    assert result.figure("cost_downtime") == "700.00" and result.figure("users_affected") == 120
    assert result.figure("impact_minutes") == 80.0  # 09:50 (review's impact start) to 11:10
    assert rows(result, "services")["disk"] == (1, 80.0, "1000.00")


def test_weekly_kpi_report(november):
    result = report_run(name="weekly_kpi", period="2026-W45")
    kpis = rows(result, "kpis")
    assert kpis["Incidents opened"] == (2, 0, 2.0)
    assert kpis["MTTA (min)"][0] == 15.0 and kpis["MTTR (min)"][0] == 100.0
    assert kpis["Cost"][0] == "1000.00"
    assert kpis["Reviews published"][0] == 1 and kpis["Reviews overdue at week end"][0] == 1  # inc2's, due 6 Nov
    assert kpis["Action items done"][0] == 1 and kpis["Action items overdue at week end"][0] == 0


def test_reliability_report(november):
    inc1, inc2 = november
    result = report_run(name="reliability", period="2026-11")
    factors = rows(result, "factors")
    assert factors["Configuration"] == (2, 1) and factors["Capacity"] == (1, 1) and factors["Process"] == (0, 0)
    assert result.table("actions").rows == ((1, 1, 1, 66.7),)  # A on time, B late, C open; D cancelled
    assert result.table("effectiveness").rows == ((1, 1, 0),)
    assert result.table("repeats").rows == ((inc2.pk, "disk", "alertname:DiskFull", inc1.pk),)


def test_a_report_is_reproducible(november, make_incident):
    first = report_run(name="operations", period="2026-11").as_dict()
    make_incident(severity=1, opened_at=datetime(2026, 12, 2, tzinfo=UTC))  # another period's data
    assert report_run(name="operations", period="2026-11").as_dict() == first
    assert report_run(name="reliability", period="2026-11").as_csv() == \
        report_run(name="reliability", period="2026-11").as_csv()


def test_the_page_csv_api_and_command_show_the_same_report(november, client, make_user, manager_client):
    client.force_login(make_user(Role.EXECUTIVE))
    page = client.get("/reports/operations/?period=2026-11")
    assert page.status_code == 200 and "MTTA (mean time to acknowledge)" in page.content.decode()
    assert client.get("/reports/operations/?period=2026-99").status_code == 400
    csv = client.get("/reports/operations.csv?period=2026-11")
    assert csv["Content-Type"].startswith("text/csv") and "L1 Critical,1,0,1,1,10.0,70.0,10.0,1" in \
        csv.content.decode()
    data = manager_client.get("/api/v1/reports/operations/?period=2026-11").data
    assert data == report_run(name="operations", period="2026-11").as_dict()
    bad = manager_client.get("/api/v1/reports/operations/?period=nope")
    assert bad.status_code == 400 and bad.data["field"] == "period"
    assert manager_client.get("/api/v1/reports/nope/").status_code == 404
    out = io.StringIO()
    call_command("report", "weekly_kpi", "--period", "2026-W45", stdout=out)
    assert "Incidents opened: 2" in out.getvalue()


def test_subscribed_managers_get_the_report_by_email_once(november, make_user):
    manager, operator = make_user(Role.MANAGER), make_user(Role.OPERATOR)
    report_subscription_set(user=manager, name="weekly_kpi", subscribed=True)
    with pytest.raises(DomainError) as info:
        report_subscription_set(user=operator, name="weekly_kpi", subscribed=True)
    assert info.value.status_code == 403
    assert report_email_send(name="weekly_kpi", today=date(2026, 11, 10)) == 2  # e-mail + in-app
    assert report_email_send(name="weekly_kpi", today=date(2026, 11, 10)) == 0
    mail = Delivery.objects.get(kind="report", channel="email")
    assert mail.recipient == manager and "Incidents opened: 2" in mail.message["text"]
    assert "/reports/weekly_kpi/?period=2026-W45" in mail.message["url"]


def test_a_new_report_is_one_registered_function(db):
    @report_register("test_only", title="Test", description="one module")
    def compute(*, period):
        return ReportResult(name="test_only", title="Test", period=period)

    try:
        assert report_run(name="test_only", period="2026-11").period.label == "2026-11"
        with pytest.raises(ValueError):
            report_register("operations", title="again", description="")(compute)
    finally:
        _REPORTS.pop("test_only")


def test_managers_subscribe_on_the_reports_page_and_operators_cannot(client, make_user):
    manager = make_user(Role.MANAGER)
    client.force_login(manager)
    assert client.post("/reports/business_impact/subscription/", {"subscribed": "1"}).status_code == 302
    assert "Unsubscribe" in client.get("/reports/").content.decode()
    client.force_login(make_user(Role.OPERATOR))
    assert client.post("/reports/business_impact/subscription/", {"subscribed": "1"}).status_code == 403
    assert list(manager.report_subscriptions.values_list("report", flat=True)) == ["business_impact"]
