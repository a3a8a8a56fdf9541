"""A chunked upload (Transfer-Encoding: chunked, no Content-Length) through a real gunicorn is read in full."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

from incidents.models import Alert

from .conftest import ROOT, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PORT = 16431  # this suite's own port range


@pytest.fixture
def gunicorn_server(tmp_path):
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        yield from _serve(log, log_path)


def _serve(log, log_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aiops.wsgi:application", "-b", f"127.0.0.1:{PORT}",
         "-k", "gthread", "--threads", "2", "-w", "1"],
        cwd=ROOT, env=worker_env(settings.DATABASES["default"]["NAME"]), stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{PORT}"
    try:  # stop gunicorn even when it never came up: a stray server would hold the test database
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()}")
            try:
                requests.get(f"{url}/healthz", timeout=5)
                break
            except requests.RequestException:  # not listening, or still loading the app
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_chunked_signal_reaches_the_api_through_gunicorn(gunicorn_server, make_integration):
    _, token = make_integration("generic")
    body = json.dumps({"title": "Chunked from a Go agent", "severity": "error"}).encode()

    def chunks():  # requests sends a generator as Transfer-Encoding: chunked, without Content-Length
        yield body[:10]
        yield body[10:]

    response = requests.post(f"{gunicorn_server}/api/v1/signals/", data=chunks(), timeout=10,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    assert Alert.objects.filter(title="Chunked from a Go agent").exists()
