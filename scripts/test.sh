#!/usr/bin/env bash
# The whole test command (README "Tests"), in order, stopping at the first failure:
#   1. lint (ruff) and types (mypy), both configured in pyproject.toml;
#   2. the suite on the SQLite default (unit, API and browser tests, tasks in-process);
#   3. the same suite on PostgreSQL, tasks in-process: production's database runs its own SQL paths
#      (COPY, LATERAL, the signal fast path...); tests that never touch the database ran in 2;
#   4. the integration suite on real PostgreSQL, Redis and celery worker processes;
#   5. the fault suite (tests/reliability) on a PostgreSQL cluster and a Redis of its own, which its
#      tests kill and restart, with gunicorn, workers and beat (scripts/reliability.sh).
# Extra arguments go to every pytest run (e.g. `-x`, `-k name`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
STARTED=$SECONDS

bash scripts/system-deps.sh
bash scripts/services.sh

run_pytest() {
  local rc=0
  "$PY" -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi
  [ "$rc" -eq 0 ] || exit "$rc"
}

step() { echo "== $1  ($(( SECONDS - STARTED )) s so far)"; }

step "1/6 lint: ruff"
.venv/bin/ruff check .

step "2/6 types: mypy"
.venv/bin/mypy

step "3/6 suite on the SQLite default"
(
  unset DATABASE_URL REDIS_URL TEST_DATABASE_NAME CELERY_TASK_ALWAYS_EAGER
  export DJANGO_ENV=test
  run_pytest tests --ignore=tests/integration --ignore=tests/reliability "$@"
)

step "4/6 suite on PostgreSQL (tasks in-process; only the tests that use the database)"
(
  # A private test database per run, so parallel runs never share one.
  unset REDIS_URL
  export DJANGO_ENV=test
  export DATABASE_URL="${INTEGRATION_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/aiops}"
  export TEST_DATABASE_NAME="test_aiops_suite_$$"
  export CELERY_TASK_ALWAYS_EAGER=true
  run_pytest tests --ignore=tests/integration --ignore=tests/reliability --db-only "$@"
)

step "5/6 integration suite on PostgreSQL + Redis + celery worker"
(
  # A private test database and Redis db per run, so parallel runs never share a queue.
  export DJANGO_ENV=test
  export DATABASE_URL="${INTEGRATION_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/aiops}"
  export REDIS_URL="${INTEGRATION_REDIS_URL:-redis://127.0.0.1:6379/$(( $$ % 15 + 1 ))}"
  export TEST_DATABASE_NAME="test_aiops_$$"
  export CELERY_TASK_ALWAYS_EAGER=false
  redis-cli -u "$REDIS_URL" flushdb >/dev/null
  run_pytest tests/integration "$@"
)

step "6/6 fault suite: own PostgreSQL cluster and Redis, gunicorn, workers, beat (skip locally: -m 'not slow')"
bash scripts/reliability.sh "$@"

echo "== all passed in $(( SECONDS - STARTED )) s"
