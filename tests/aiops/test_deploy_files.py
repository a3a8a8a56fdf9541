"""The deployment files agree: compose.yaml and deploy/systemd/ run exactly the Procfile's commands, and the
Dockerfile copies everything the service needs."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def test_the_procfile_has_web_a_worker_per_queue_group_beat_and_migrations():
    entries = procfile()
    assert set(entries) == {"release", "web", "worker-ingest", "worker-notify", "worker-default", "worker-training",
                            "beat"}
    queues = {q for name, cmd in entries.items() if name.startswith("worker-")
              for q in shlex.split(cmd)[shlex.split(cmd).index("-Q") + 1].split(",")}
    from aiops.celery import QUEUES
    assert queues == set(QUEUES)  # every queue has a worker


def test_compose_runs_the_procfile_commands():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    entries = procfile()
    assert services["migrate"]["command"] == entries["release"]
    for name, command in entries.items():
        if name != "release":
            assert services[name]["command"] == command, name
    assert {"db", "redis"} <= set(services)


def test_systemd_units_run_the_procfile_commands():
    entries = procfile()
    for unit in (ROOT / "deploy" / "systemd").glob("aiops-*.service"):
        name = unit.stem.removeprefix("aiops-")
        exec_start = re.search(r"^ExecStart=(.+)$", unit.read_text(), re.M).group(1)
        # The units add a venv path, a node name (-n x@%H) and beat's schedule file (-s path).
        command = re.sub(r"^/srv/aiops/\.venv/bin/", "", exec_start)
        command = re.sub(r" -[ns] \S+", "", command)
        assert command == entries[name], unit.name


def test_the_dockerfile_copies_every_app_and_the_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for part in ("aiops", "core", "incidents", "monitoring", "models_registry", "templates", "static", "manage.py"):
        assert re.search(rf"^COPY .*\b{re.escape(part)}\b", dockerfile, re.M), part
    assert "collectstatic" in dockerfile and "USER aiops" in dockerfile
