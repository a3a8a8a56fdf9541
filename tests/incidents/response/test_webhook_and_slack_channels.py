"""Webhook and Slack deliveries to a real local HTTP server: signatures, retries and permanent failures."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from incidents.choices import SEVERITY_COLOURS, ChannelKind, DeliveryStatus
from incidents.models import ChannelEndpoint, Delivery
from incidents.notifications.webhook import SIGNATURE_HEADER
from incidents.services import deliveries, notifications

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_to_endpoint(make_incident, django_capture_on_commit_callbacks):
    """Page a Level 1 incident to one shared endpoint; returns (incident, endpoint)."""

    def page(url: str, *, kind: str = ChannelKind.WEBHOOK, secret: str = "s3cret"):
        endpoint = ChannelEndpoint.objects.create(name=f"hook-{kind}", kind=kind, url=url, secret=secret,
                                                  timeout_seconds=2)
        policy = notifications.policy_get(level=1)
        policy.endpoints.add(endpoint)
        incident = make_incident(severity=1, title="Checkout down")
        with django_capture_on_commit_callbacks(execute=True):
            notifications.incident_notify(incident_id=incident.pk)
        return incident, endpoint

    return page


def test_webhook_body_carries_a_valid_hmac_signature(http_receiver, page_to_endpoint):
    incident, _ = page_to_endpoint(http_receiver.url)

    assert len(http_receiver.requests) == 1
    request = http_receiver.requests[0]
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert request.json["incident"]["id"] == incident.pk
    assert request.json["level"] == 1
    assert request.json["url"].endswith(f"/incidents/{incident.pk}/")


def test_server_answering_500_then_200_gets_exactly_one_successful_delivery(http_receiver, page_to_endpoint):
    http_receiver.statuses = [500, 200]

    incident, endpoint = page_to_endpoint(http_receiver.url)
    delivery = Delivery.objects.get(incident=incident, endpoint=endpoint)
    # A late duplicate of the task finds the row already sent and does not post again.
    deliveries.delivery_send(delivery_id=delivery.pk)

    assert [r.headers.get("X-AIOps-Delivery") for r in http_receiver.requests] == [str(delivery.pk)] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert Delivery.objects.filter(incident=incident, endpoint=endpoint).count() == 1


def test_server_answering_400_is_not_retried_and_the_endpoint_is_marked_unhealthy(http_receiver, page_to_endpoint):
    http_receiver.statuses = [400]

    incident, endpoint = page_to_endpoint(http_receiver.url)

    assert len(http_receiver.requests) == 1
    delivery = Delivery.objects.get(incident=incident, endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert "HTTP 400" in delivery.last_error
    endpoint.refresh_from_db()
    assert not endpoint.healthy
    assert "HTTP 400" in endpoint.last_error


def test_429_and_5xx_are_retried_up_to_the_limit_then_fail_without_marking_unhealthy(http_receiver, page_to_endpoint):
    http_receiver.statuses = [429, 503]

    incident, endpoint = page_to_endpoint(http_receiver.url)

    assert len(http_receiver.requests) == deliveries.MAX_ATTEMPTS
    delivery = Delivery.objects.get(incident=incident, endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert "HTTP 503" in delivery.last_error
    endpoint.refresh_from_db()
    assert endpoint.healthy


def test_unreachable_receiver_is_a_transient_failure(page_to_endpoint):
    incident, endpoint = page_to_endpoint("http://127.0.0.1:9/nothing-listens-here")

    delivery = Delivery.objects.get(incident=incident, endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == deliveries.MAX_ATTEMPTS
    assert "connection failed" in delivery.last_error


def test_slack_message_has_blocks_severity_colour_and_a_link_back(http_receiver, page_to_endpoint):
    incident, _ = page_to_endpoint(http_receiver.url, kind=ChannelKind.SLACK)

    body = http_receiver.requests[0].json
    assert body["text"].startswith("[AIOps L1")
    assert body["attachments"][0]["color"] == SEVERITY_COLOURS[1]
    button = body["blocks"][-1]["elements"][0]
    assert button["url"].endswith(f"/incidents/{incident.pk}/")
    assert SIGNATURE_HEADER not in http_receiver.requests[0].headers
