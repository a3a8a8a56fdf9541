"""The documented backup and restore (scripts/backup.sh, scripts/restore.sh) bring back incidents, their
alerts and timeline, and the model registry with its artifacts, into a fresh database."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from incidents.contracts import SignalIn
from incidents.services import signal_ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("incidents_incident", "incidents_alert", "incidents_timelineevent", "models_registry_registeredmodel",
          "models_registry_modelversion", "core_service")


def url(db: dict, name: str) -> str:
    return f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608


def test_a_backup_restores_incidents_and_the_model_registry(make_service, make_model_version, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("backups are PostgreSQL's pg_dump")
    service = make_service("backup-svc")
    for n in range(3):
        signal_ingest(signal=SignalIn(source_kind="generic", source_name="t", service=service.name,
                                      title=f"Disk full {n}", fingerprint=f"disk-{n}", occurred_at=timezone.now()))
    version = make_model_version()
    artifacts = tmp_path / "artifacts"
    (artifacts / "models").mkdir(parents=True)
    (artifacts / "models" / f"{version.model.name}-v{version.version}.joblib").write_bytes(b"model-bytes")

    db = connection.settings_dict
    source, restored = db["NAME"], f"{db['NAME']}_restore"
    env = {**os.environ, "DATABASE_URL": url(db, source), "ARTIFACT_DIR": str(artifacts)}
    subprocess.run(["bash", str(ROOT / "scripts" / "backup.sh"), str(tmp_path / "backup")], env=env, check=True,
                   capture_output=True, timeout=120)

    with psycopg.connect(url(db, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        target = tmp_path / "restored-artifacts"
        env = {**os.environ, "DATABASE_URL": url(db, restored), "ARTIFACT_DIR": str(target)}
        subprocess.run(["bash", str(ROOT / "scripts" / "restore.sh"), str(tmp_path / "backup")], env=env,
                       check=True, capture_output=True, timeout=120)
        before, after = counts(url(db, source)), counts(url(db, restored))
        assert after == before and after["incidents_alert"] >= 3 and after["models_registry_modelversion"] == 1
        with psycopg.connect(url(db, restored)) as conn:
            titles = {row[0] for row in conn.execute("SELECT title FROM incidents_alert")}
        assert {"Disk full 0", "Disk full 1", "Disk full 2"} <= titles
        restored_file = target / "models" / f"{version.model.name}-v{version.version}.joblib"
        assert restored_file.read_bytes() == b"model-bytes"
    finally:
        with psycopg.connect(url(db, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
