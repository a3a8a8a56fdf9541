#!/usr/bin/env bash
# Back up the service: the PostgreSQL database (incidents, timeline, model registry, prediction logs...)
# and the model artifacts directory. Usage: DATABASE_URL=... ARTIFACT_DIR=... scripts/backup.sh OUT_DIR
# Restore with scripts/restore.sh. Run it from cron or a systemd timer; keep copies off the machine.
set -euo pipefail
out="${1:?usage: scripts/backup.sh OUT_DIR}"
: "${DATABASE_URL:?set DATABASE_URL}"
mkdir -p "$out"
# Custom format: compressed, restorable table by table, consistent (one snapshot) while the service runs.
pg_dump --format=custom --no-owner --no-privileges --file "$out/aiops.dump" "$DATABASE_URL"
if [ -n "${ARTIFACT_DIR:-}" ] && [ -d "$ARTIFACT_DIR" ]; then
  tar -czf "$out/artifacts.tgz" -C "$ARTIFACT_DIR" .
fi
echo "backup written to $out: $(du -sh "$out" | cut -f1)"
