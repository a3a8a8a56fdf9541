"""The environment helpers fail loudly on values we cannot use."""
from __future__ import annotations

import pytest

from aiops.env import ImproperEnv, env_bool, env_choice, env_int


@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG") is expected


def test_env_bool_rejects_a_typo(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperEnv, match="X_FLAG"):
        env_bool("X_FLAG")


def test_env_int_rejects_words_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperEnv, match="not an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperEnv, match="at least 1"):
        env_int("X_INT", 1, minimum=1)


def test_env_choice_rejects_an_unknown_profile(monkeypatch):
    monkeypatch.setenv("X_ENV", "prod")
    with pytest.raises(ImproperEnv):
        env_choice("X_ENV", "development", {"development", "production"})


def test_the_production_profile_passes_check_deploy(tmp_path):
    import subprocess
    import sys

    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-not-insecure-" + "z" * 40,
        "ALLOWED_HOSTS": "aiops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    import subprocess
    import sys

    env = {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "x", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_redis_that_never_answers_does_not_stall_the_rate_limiter(tmp_path):
    """A Redis host that accepts connections but never replies (a hung box, a black-holed route):
    the cache gives up after REDIS_SOCKET_TIMEOUT and the limiter falls back per process."""
    import socket
    import subprocess
    import sys

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nothing ever reads or writes
        port = silent.getsockname()[1]
        script = (
            "import django; django.setup()\n"
            "from core.ratelimit import rate_limit_hit\n"
            "print(rate_limit_hit(key='silent', limit=1000).allowed)\n"
        )
        env = {"DJANGO_SETTINGS_MODULE": "aiops.settings", "REDIS_URL": f"redis://127.0.0.1:{port}/0",
               "REDIS_SOCKET_TIMEOUT": "0.3", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
               "PATH": "/usr/bin:/bin"}
        # The timeout only guards the suite against a hang; the assertion is on the outcome.
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert "rate limit counter unreachable" in result.stderr
