"""The cost ledger: FOCUS import (whole file or nothing), allocation to months, and the cost API's checks."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.choices import Role
from models_registry.models import CostEntry, CostImport
from models_registry.services.costs import CostImportInvalid, CostOwner, focus_import, monthly_costs

from .cost_fixtures import add_cost, month

HEADER = "BilledCost,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,ServiceName,ResourceId,Tags,ServiceCategory"


def _tags(**tags) -> str:
    return '"' + json.dumps(tags).replace('"', '""') + '"'


def focus(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture
def good_file(journey_model, make_service):
    make_service("checkout-api")
    return focus(
        f"120.00,100.00,2013-01-01T00:00:00Z,2013-02-01T00:00:00Z,EC2,i-1,{_tags(model='journey-time')},Compute",
        f"30,25.5,2013-01-01,2013-02-01,S3,b-1,{_tags(model='journey-time', cost_category='data.storage')},Storage",
        f"80,80,2013-01-01,2013-02-01,RDS,db-1,{_tags(service='checkout-api')},Compute",
        f"9,9,2013-01-01,2013-02-01,Support,,{_tags(team='x')},Other",  # no allocation tag: skipped
    )


def test_a_good_focus_file_is_stored_whole_with_its_allocation(good_file, journey_model):
    batch = focus_import(content=good_file.encode(), filename="jan.csv")
    assert (batch.rows, batch.entries, batch.skipped) == (4, 3, 1)
    assert float(batch.total) == 205.5
    compute = CostEntry.objects.get(model=journey_model, category="infrastructure.compute")
    assert (float(compute.amount), float(compute.billed_amount), compute.resource_id) == (100.0, 120.0, "i-1")
    assert CostEntry.objects.get(model=journey_model, category="data.storage").amount == pytest.approx(25.5)
    assert CostEntry.objects.get(service__name="checkout-api").amount == 80


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("-5,-5,2013-01-01,2013-02-01,EC2,i,{tags},Compute", "BilledCost"),
        ("5,abc,2013-01-01,2013-02-01,EC2,i,{tags},Compute", "EffectiveCost"),
        ("5,5,yesterday,2013-02-01,EC2,i,{tags},Compute", "ChargePeriodStart"),
        ("5,5,2013-02-01,2013-01-01,EC2,i,{tags},Compute", "period_end"),
        ("5,5,2013-01-01,2013-02-01,EC2,i,{tags},Other", "Tags"),  # no category
    ],
    ids=["negative", "non_numeric", "bad_date", "end_before_start", "no_category"],
)
def test_a_bad_row_is_reported_by_line_and_nothing_is_stored(good_file, row, field):
    bad = row.format(tags=_tags(model="journey-time"))
    content = good_file + bad + "\n"
    with pytest.raises(CostImportInvalid) as caught:
        focus_import(content=content, filename="bad.csv")
    assert caught.value.errors == [{"row": 6, "field": field, "message": caught.value.errors[0]["message"]}]
    assert not CostEntry.objects.exists() and not CostImport.objects.exists()


def test_every_bad_row_is_listed_unknown_model_category_and_currency(journey_model):
    header = HEADER + ",BillingCurrency"
    content = focus(
        f"1,1,2013-01-01,2013-02-01,EC2,i,{_tags(model='nope')},Compute,EUR",
        f"1,1,2013-01-01,2013-02-01,EC2,i,{_tags(model='journey-time', cost_category='marketing')},Compute,EUR",
        f"1,1,2013-01-01,2013-02-01,EC2,i,{_tags(model='journey-time')},Compute,USD",
        f"1,1,2013-01-01,2013-02-01,EC2,i,{_tags(model='journey-time')},Compute,EUR",
        header=header,
    )
    with pytest.raises(CostImportInvalid) as caught:
        focus_import(content=content, filename="bad.csv")
    assert [(e["row"], e["field"]) for e in caught.value.errors] == [(2, "Tags"), (3, "Tags"), (4, "BillingCurrency")]
    assert "marketing" in caught.value.errors[1]["message"]
    assert not CostEntry.objects.exists()


def test_missing_columns_are_named(journey_model):
    with pytest.raises(CostImportInvalid) as caught:
        focus_import(content="BilledCost,ServiceName\n1,EC2\n", filename="x.csv")
    assert "EffectiveCost" in caught.value.message and "Tags" in caught.value.message
    assert {e["field"] for e in caught.value.errors} == {
        "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "ResourceId", "Tags"
    }


def test_an_entry_spanning_two_months_is_split_by_time(journey_model):
    # 10 days in January (22nd to 1st), 20 in February: 300 → 100 + 200.
    add_cost(model=journey_model, start=month(2013, 1, 22), end=month(2013, 2, 21), amount=300)
    costs = monthly_costs(owner=CostOwner(model=journey_model), start=month(2013, 1), end=month(2013, 4))
    assert costs[month(2013, 1)]["infrastructure.compute"] == pytest.approx(100)
    assert costs[month(2013, 2)]["infrastructure.compute"] == pytest.approx(200)


# --- API ------------------------------------------------------------------------------------------

ENTRY = {"model": "journey-time", "category": "operations.monitoring", "period_start": "2013-01-01T00:00:00Z",
         "period_end": "2013-02-01T00:00:00Z", "amount": "12.50"}


def test_managers_add_entries_operators_only_read(journey_model, client_as):
    created = client_as(Role.MANAGER).post("/api/v1/costs/", ENTRY, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["currency"] == "EUR" and created.json()["model"] == "journey-time"
    operator = client_as(Role.OPERATOR)
    assert operator.post("/api/v1/costs/", ENTRY, format="json").status_code == 403
    assert operator.get("/api/v1/costs/?model=journey-time").json()["count"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"category": "marketing"}, "category"),
        ({"currency": "USD"}, "currency"),
        ({"service": "checkout-api"}, "model"),
        ({"model": "unknown"}, "model"),
        ({"period_end": "2012-12-01T00:00:00Z"}, "period_end"),
    ],
    ids=["negative", "non_numeric", "unknown_category", "other_currency", "model_and_service", "unknown_model",
         "period_reversed"],
)
def test_bad_entries_are_refused_naming_the_field(journey_model, manager_client, change, field):
    response = manager_client.post("/api/v1/costs/", ENTRY | change, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not CostEntry.objects.exists()


def test_focus_upload_through_the_api(good_file, manager_client, client_as):
    bad = good_file + f"-1,1,2013-01-01,2013-02-01,EC2,i,{_tags(model='journey-time')},Compute\n"
    refused = manager_client.post("/api/v1/costs/imports/", {"file": SimpleUploadedFile("bad.csv", bad.encode())})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["row"] == 6 and refused.json()["errors"][0]["field"] == "BilledCost"
    assert not CostEntry.objects.exists()
    assert manager_client.post("/api/v1/costs/imports/", {}).json()["field"] == "file"
    executive = client_as(Role.EXECUTIVE)
    assert executive.post("/api/v1/costs/imports/", {"file": SimpleUploadedFile("a.csv", b"x")}).status_code == 403
    stored = manager_client.post("/api/v1/costs/imports/", {"file": SimpleUploadedFile("jan.csv", good_file.encode())})
    assert stored.status_code == 201 and stored.json()["entries"] == 3
    assert executive.get("/api/v1/costs/imports/").json()["count"] == 1


def test_a_wrong_entry_is_deleted_by_a_manager_not_by_an_operator(journey_model, manager_client, operator_client):
    entry = add_cost(model=journey_model, start=month(2013, 1), end=month(2013, 2), amount=5)
    assert operator_client.delete(f"/api/v1/costs/{entry.pk}/").status_code == 403
    assert operator_client.get(f"/api/v1/costs/{entry.pk}/").json()["amount"] == "5.00"
    assert manager_client.delete(f"/api/v1/costs/{entry.pk}/").status_code == 204
    assert not CostEntry.objects.exists()
