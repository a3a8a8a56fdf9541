"""Similar past incidents: order (recurrence, then similarity, then a recorded resolution), what resolved them,
the playbook suggested, and hit@3 on a generated history."""
from __future__ import annotations

import pytest
from django.utils import timezone

from core.choices import Role
from incidents.choices import IncidentStatus, StepStatus
from incidents.models import PlaybookRun, PlaybookStepRun
from incidents.services.similar import IncidentDoc, SimilarIndex, similar_incidents
from incidents.services.similar_history import hit_at

pytestmark = pytest.mark.django_db


def doc(id, text, *, service="api", fps=(), resolved=False):
    return IncidentDoc(id=id, text=text, service=service, services=frozenset({service}),
                       fingerprints=frozenset(fps), has_resolution=resolved)


def test_recurrence_outranks_similarity_which_outranks_having_a_resolution():
    index = SimilarIndex.build([
        doc(1, "disk full on api volume /var", resolved=True),
        doc(2, "disk full on api volume /var", resolved=False),
        doc(3, "certificate expiry on api", fps={"fp-cert"}),
        doc(4, "memory leak in worker", service="worker", resolved=True),
    ])
    query = doc(99, "disk full on api volume /var", fps={"fp-cert"})
    ids = [m.id for m in index.query(query, limit=5)]
    assert ids[0] == 3  # exact recurrence first, although its words differ
    assert ids[1:3] == [1, 2]  # equally similar: the one with a resolution first
    assert 4 not in ids  # unrelated: not shown at all


def test_hit_at_3_on_a_generated_history_with_known_recurrence():
    result = hit_at(size=600, n_families=40, queries=100, seed=5)
    assert result["hit@3"] >= 0.8
    assert result["hit@3_new_fingerprint"] >= 0.7  # found by words and structure, not the fingerprint


def _resolve(incident, *, note="", playbook="", done=()):
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = timezone.now()
    incident.resolution = note
    incident.save()
    if playbook:
        run = PlaybookRun.objects.create(incident=incident, playbook_name=playbook)
        for i, title in enumerate(done, start=1):
            PlaybookStepRun.objects.create(run=run, position=i, phase="resolution", title=title, kind="checklist",
                                           status=StepStatus.DONE)
        PlaybookStepRun.objects.create(run=run, position=99, phase="resolution", title="Never done",
                                       kind="checklist", status=StepStatus.PENDING)


def test_the_panel_shows_what_resolved_them_and_suggests_the_playbook(make_service, make_incident, client,
                                                                     make_user, client_as):
    api = make_service("sim-api")
    past = make_incident(service=api, title="Disk full on sim-api data volume")
    _resolve(past, note="Rotated logs and grew the volume to 200 GB", playbook="Disk pressure",
             done=("Find the largest directories", "Grow the volume"))
    other = make_incident(service=make_service("sim-other"), title="Login page slow for EU users")
    _resolve(other, note="Scaled the login pods")
    now = make_incident(service=api, title="Disk full on sim-api data volume again")

    data = similar_incidents(incident=now)
    assert [s["id"] for s in data["similar"]][0] == past.pk
    first = data["similar"][0]
    assert "Rotated logs" in first["resolution_notes"][0]
    assert first["steps_done"] == ["Find the largest directories", "Grow the volume"]
    assert first["review"] is None  # no review recorded (or no review model yet)
    assert data["suggestion"] == {"playbook": "Disk pressure", "steps": ["Find the largest directories",
                                                                          "Grow the volume"],
                                  "from_incidents": [past.pk]}

    client.force_login(make_user(Role.MANAGER))
    body = client.get(f"/incidents/{now.pk}/").content.decode()
    assert "Similar past incidents" in body and "Grow the volume" in body
    response = client_as(Role.OPERATOR).get(f"/api/v1/incidents/{now.pk}/similar/")
    assert response.status_code == 200 and response.json()["similar"][0]["id"] == past.pk


def test_an_incident_is_never_similar_to_itself_and_open_ones_are_not_offered(make_service, make_incident):
    api = make_service("sim-self")
    open_one = make_incident(service=api, title="Queue backlog on sim-self")
    resolved = make_incident(service=api, title="Queue backlog on sim-self")
    _resolve(resolved, note="Added consumers")
    ids = [s["id"] for s in similar_incidents(incident=resolved)["similar"]]
    assert resolved.pk not in ids and open_one.pk not in ids


def test_a_past_incidents_published_review_and_factors_are_shown(make_incident):
    from incidents.choices import IncidentStatus, ReviewStatus
    from incidents.models import PostIncidentReview
    from incidents.services.similar import review_of

    past = make_incident(title="Disk full on db", status=IncidentStatus.RESOLVED)
    assert review_of(past) is None
    PostIncidentReview.objects.create(incident=past, status=ReviewStatus.PUBLISHED, summary="log rotation off",
                                      contributing_factors=[{"category": "configuration", "text": "logrotate"}])
    past.refresh_from_db()
    shown = review_of(past)
    assert shown["published"] and shown["contributing_factors"] == [{"category": "configuration", "text": "logrotate"}]
    assert shown["url"].endswith(f"/incidents/{past.pk}/review/")
