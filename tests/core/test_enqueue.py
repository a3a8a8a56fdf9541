"""core.enqueue: work handed over by task name after commit, in-process without a broker, debounced kicks."""
from __future__ import annotations

from unittest import mock

import pytest
from celery import shared_task
from django.db import transaction

from core import enqueue

RAN: list[tuple] = []


@shared_task(name="core.test_enqueue_probe")
def probe(*args):
    RAN.append(args)


@pytest.fixture(autouse=True)
def _clean():
    RAN.clear()
    enqueue._last_kick.clear()


@pytest.mark.django_db(transaction=True)
def test_in_process_mode_runs_the_task_only_after_the_commit(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with transaction.atomic():
        enqueue.enqueue("core.test_enqueue_probe", 7)
        assert RAN == []
    assert RAN == [(7,)]


def test_in_process_mode_leaves_a_countdown_to_the_sweep(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert enqueue.send("core.test_enqueue_probe", 1, countdown=60) is False
    assert RAN == []


def test_with_a_broker_it_sends_by_name_and_never_raises(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with mock.patch.object(enqueue.current_app, "send_task") as send_task:
        assert enqueue.send("core.test_enqueue_probe", 1, countdown=5) is True
    send_task.assert_called_once_with("core.test_enqueue_probe", args=(1,), countdown=5)
    with mock.patch.object(enqueue.current_app, "send_task", side_effect=ConnectionError("broker down")):
        assert enqueue.send("core.test_enqueue_probe", 1) is False
    assert RAN == []


def test_kicks_are_debounced_and_flagged(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with mock.patch.object(enqueue.current_app, "send_task") as send_task:
        enqueue.kick("probe", "core.test_enqueue_probe", flag_seconds=10)
        enqueue.kick("probe", "core.test_enqueue_probe", flag_seconds=10)  # within the debounce
        assert send_task.call_count == 1
        enqueue._last_kick.clear()
        enqueue.kick("probe", "core.test_enqueue_probe", flag_seconds=10)  # the flag says one waits
        assert send_task.call_count == 1
        enqueue.kick("probe", "core.test_enqueue_probe", flag_seconds=10, force=True)  # a hand-over
        assert send_task.call_count == 2
