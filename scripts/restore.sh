#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database (create it first: createdb ...), and
# the model artifacts into ARTIFACT_DIR. Usage: DATABASE_URL=... ARTIFACT_DIR=... scripts/restore.sh IN_DIR
# Stop web, workers and beat first; start them again after (migrations are already applied in the dump).
set -euo pipefail
in="${1:?usage: scripts/restore.sh IN_DIR}"
: "${DATABASE_URL:?set DATABASE_URL}"
pg_restore --no-owner --no-privileges --exit-on-error --dbname "$DATABASE_URL" "$in/aiops.dump"
if [ -f "$in/artifacts.tgz" ] && [ -n "${ARTIFACT_DIR:-}" ]; then
  mkdir -p "$ARTIFACT_DIR"
  tar -xzf "$in/artifacts.tgz" -C "$ARTIFACT_DIR"
fi
echo "restored from $in"
