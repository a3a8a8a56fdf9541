"""The silences page: pre-filled from an alert, preview before saving, create, list and expire; roles re-checked."""
from __future__ import annotations

import pytest
from django.utils import timezone

from core.choices import Role
from incidents.models import Alert, Silence

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, make_user):
    def login(*roles):
        client.force_login(make_user(*roles))
        return client

    return login


@pytest.fixture
def disk_alert(make_service, ingest):
    service = make_service("db-main")
    result = ingest(service, "Disk almost full", labels={"alertname": "DiskFull", "instance": "db1"},
                    fingerprint="disk-db1")
    return Alert.objects.get(pk=result.alert_id)


def form_from_alert(alert, **extra):
    data = {"alert": str(alert.pk), "duration": "1h", "comment": "disk being replaced", "action": "create"}
    for i, (label, value) in enumerate([*sorted(alert.labels.items()), ("service", alert.service.name)]):
        data |= {f"m{i}_label": label, f"m{i}_op": "=", f"m{i}_value": value, f"m{i}_on": "1"}
    return data | extra


def test_the_page_prefills_matchers_from_the_alert_and_previews_it(disk_alert, page_client):
    body = page_client(Role.OPERATOR).get(f"/incidents/silences/?alert={disk_alert.pk}").content.decode()
    assert 'name="m0_label" value="alertname"' in body and 'value="DiskFull"' in body
    assert 'name="m2_label" value="service"' in body and 'value="db-main"' in body
    assert "Silenced from alert #" in body  # comment pre-filled: the second click saves
    assert 'value="1h" checked' in body  # the default duration preset
    assert "Would mute" in body and "Disk almost full" in body  # preview shown before saving


def test_preview_json_counts_matching_alerts_and_names_a_bad_regex(disk_alert, make_alert, page_client):
    make_alert(service=disk_alert.service, labels={"alertname": "DiskFull", "instance": "db2"})  # outside incidents
    make_alert(service=disk_alert.service, labels={"alertname": "CPU"})
    client = page_client(Role.MANAGER)  # a read: managers may look
    ok = client.get("/incidents/silences/preview/", {"m0_label": "alertname", "m0_op": "=", "m0_value": "DiskFull",
                                                     "m0_on": "1"}).json()
    assert ok["mute_now"] == 1 and ok["in_incidents"] == 1 and ok["recent"] == 2
    assert {a["labels"].get("instance") for a in ok["alerts"]} == {"db1", "db2"}
    bad = client.get("/incidents/silences/preview/", {"m0_label": "alertname", "m0_op": "=~", "m0_value": "(",
                                                      "m0_on": "1"})
    assert bad.status_code == 400 and bad.json()["field"] == "matchers" and "regular expression" in bad.json()["detail"]


def test_creating_from_the_form_mutes_the_next_matching_alert(disk_alert, page_client, ingest):
    client = page_client(Role.OPERATOR)
    response = client.post("/incidents/silences/create/", form_from_alert(disk_alert, m1_on=""))  # any instance
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert silence.matchers == [{"label": "alertname", "op": "=", "value": "DiskFull"},
                                {"label": "service", "op": "=", "value": "db-main"}]
    assert timezone.timedelta(minutes=59) < silence.ends_at - timezone.now() <= timezone.timedelta(hours=1)
    result = ingest("db-main", "Disk almost full", labels={"alertname": "DiskFull", "instance": "db7"})
    assert result.outcome == "silenced" and result.incident_id is None
    listed = client.get("/incidents/silences/").content.decode()
    assert f'id="silence-{silence.pk}"' in listed and "disk being replaced" in listed


def test_preview_action_saves_nothing(disk_alert, page_client):
    response = page_client(Role.OPERATOR).post("/incidents/silences/create/",
                                               form_from_alert(disk_alert, action="preview"))
    assert response.status_code == 200 and "Would mute" in response.content.decode()
    assert not Silence.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"comment": ""}, "comment"),
    ({"duration": "custom", "hours": "abc"}, "hours"),
    ({"duration": "custom", "hours": "0"}, "hours"),
    ({"duration": "forever"}, "duration"),
    ({"m0_on": "", "m1_on": "", "m2_on": ""}, "matchers"),
    ({"m0_op": "=~", "m0_value": "[unclosed"}, "matchers"),
])
def test_bad_input_re_shows_the_form_with_a_400_naming_the_field(disk_alert, page_client, change, field):
    response = page_client(Role.OPERATOR).post("/incidents/silences/create/", form_from_alert(disk_alert, **change))
    body = response.content.decode()
    assert response.status_code == 400 and f"({field})" in body
    assert 'name="m0_label" value="alertname"' in body  # what was typed is kept
    assert not Silence.objects.exists()


def test_expire_ends_a_silence_now(disk_alert, page_client):
    client = page_client(Role.OPERATOR)
    client.post("/incidents/silences/create/", form_from_alert(disk_alert))
    silence = Silence.objects.get()
    assert client.post(f"/incidents/silences/{silence.pk}/expire/").status_code == 302
    silence.refresh_from_db()
    assert silence.expired_early_at is not None


@pytest.mark.parametrize("role", [Role.MANAGER, Role.EXECUTIVE])
def test_readers_see_no_form_and_their_posts_are_refused(disk_alert, page_client, role):
    client = page_client(role)
    body = client.get(f"/incidents/silences/?alert={disk_alert.pk}").content.decode()
    assert 'id="silence-form"' not in body and "Would mute" in body
    assert client.post("/incidents/silences/create/", form_from_alert(disk_alert)).status_code == 403
    silence = Silence.objects.create(matchers=[{"label": "a", "op": "=", "value": "b"}], starts_at=timezone.now(),
                                     ends_at=timezone.now() + timezone.timedelta(hours=1), comment="x")
    assert client.post(f"/incidents/silences/{silence.pk}/expire/").status_code == 403
    silence.refresh_from_db()
    assert silence.expired_early_at is None and Silence.objects.count() == 1


def test_unknown_alert_or_silence_is_404_and_a_bad_alert_id_400(page_client):
    client = page_client(Role.OPERATOR)
    assert client.get("/incidents/silences/?alert=999999").status_code == 404
    assert client.get("/incidents/silences/?alert=abc").status_code == 400
    assert client.post("/incidents/silences/999999/expire/").status_code == 404


def test_the_page_needs_a_login(client):
    assert client.get("/incidents/silences/").status_code == 302
