"""The monitoring app's drains (see core.drain): telemetry ingest and detection, alert intake.

Partitions: ingest and alert intake by integration (one sender's rows stay in order), detection by
service (the multivariate score groups a service's series scored in one step, so partitioning by
series would split its groups).
"""
from __future__ import annotations

from core.drain import Drain
from core.enqueue import KICK_DEBOUNCE_SECONDS
from monitoring.models import DrainLease

# Kicked by requests too: published from a background thread, so a sender never waits for a broker
# that is down (issue 16's fault suite saw telemetry requests hang past 15 s with Redis stopped).
INGEST = Drain(name="telemetry-ingest", task_name="monitoring.ingest_telemetry", leases=DrainLease,
               idle_seconds=0.5, max_seconds=5.0, background=True)
DETECT = Drain(name="telemetry-detect", task_name="monitoring.detect_telemetry", leases=DrainLease,
               idle_seconds=1.0, max_seconds=5.0)
# Kicked by requests, so published from a background thread (the sender never waits for the
# broker). It keeps looking at least as long as a web process debounces its kicks, so the rows of
# requests that skipped their kick are never left behind; it hands over after a minute (Celery's
# soft time limit is 120 s). A claim's lease and the partition's last the same.
ALERT_INTAKE = Drain(name="alert-intake", task_name="monitoring.process_alert_intakes", leases=DrainLease,
                     idle_seconds=KICK_DEBOUNCE_SECONDS, max_seconds=60.0, lease_setting="ALERT_INTAKE_LEASE_SECONDS",
                     background=True)
