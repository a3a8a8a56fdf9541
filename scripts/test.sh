#!/usr/bin/env bash
# The whole test suite: first on the SQLite default (unit, API and browser tests, tasks
# in-process), then the integration suite on real PostgreSQL, Redis and a celery worker.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

bash scripts/system-deps.sh
bash scripts/services.sh

run_pytest() {
  local rc=0
  "$PY" -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi
  [ "$rc" -eq 0 ] || exit "$rc"
}

echo "== 1/2 suite on the SQLite default"
(
  unset DATABASE_URL REDIS_URL TEST_DATABASE_NAME
  export DJANGO_ENV=test
  run_pytest tests --ignore=tests/integration "$@"
)

echo "== 2/2 integration suite on PostgreSQL + Redis + celery worker"
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
