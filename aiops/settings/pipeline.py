"""Settings of the path from signal to page: telemetry and detection, alert intake, notifications,
the incident core, the console's clocks, reviews and cost, capacity forecasts.

Star-imported by `aiops.settings`; every value comes from the environment (README "Configuration").
"""
from __future__ import annotations

from ..env import env_bool, env_float, env_int, env_list, env_str

# Tolerance the anomaly and intake code use for clocks that run ahead.
MAX_FUTURE_SKEW_SECONDS = env_int("MAX_FUTURE_SKEW_SECONDS", 300, minimum=0)

# --- Telemetry: retention and anomaly signals ------------------------------------------
# Raw points older than this are rolled into hourly rollups (min/max/mean/count) and deleted.
POINT_RETENTION_DAYS = env_int("POINT_RETENTION_DAYS", 30, minimum=1)
# Anomalies older than this when detected (a backfill of history) are stored but raise no signal:
# nobody should be paged for last week.
ANOMALY_SIGNAL_MAX_AGE_SECONDS = env_int("ANOMALY_SIGNAL_MAX_AGE_SECONDS", 3600, minimum=1)
# Points up to this much older (event time) than the newest scored point of their series are
# still scored in order: the series is rescored from a checkpoint that trails by at least this.
# Older points are stored but not scored.
TELEMETRY_ALLOWED_LATENESS_SECONDS = env_float("TELEMETRY_ALLOWED_LATENESS_SECONDS", 3600.0)
# A detect worker keeps detector states in memory and writes them to the series rows when it
# hands over, and at least this often: what a worker that dies loses, its successor replays.
DETECT_STATE_PERSIST_SECONDS = env_float("DETECT_STATE_PERSIST_SECONDS", 30.0)
# The drains (telemetry ingest and detection, alert intake) are partitioned: ingest and alert intake
# by integration, detection by service; one worker at a time drains a partition, in order, so this
# many worker processes (on any number of machines) drain in parallel. At least workers x machines;
# change it only while the queues are empty (README, "Scaling the drains").
DRAIN_PARTITIONS = env_int("DRAIN_PARTITIONS", 8, minimum=1)
# A telemetry drain renews its partition's lease every step; one not renewed this long (its worker
# died) is taken over. Longer than the slowest step (about a second), short enough to resume quickly.
DRAIN_LEASE_SECONDS = env_float("DRAIN_LEASE_SECONDS", 15.0)

# --- Alert intake (Alertmanager, Grafana, PagerDuty Events v2) ---------------------------
# A drain's claim on intake rows lasts this long unless the drain holds them (a row lock, freed
# when its worker dies); past it, another worker takes them over. Level 1's target is 5 minutes.
ALERT_INTAKE_LEASE_SECONDS = env_float("ALERT_INTAKE_LEASE_SECONDS", 10.0)
# The sweep takes over dead claims and drains rows whose drain request was lost.
ALERT_INTAKE_SWEEP_SECONDS = env_float("ALERT_INTAKE_SWEEP_SECONDS", 5.0)

# --- Notifications, escalation and digests -------------------------------------------------
# Escalation timers live in the database (Escalation.next_at) and this sweep runs them, so a
# broker restart that loses every message loses no timer; it also re-sends deliveries whose
# worker died. Seconds, so a page waits at most this long behind a lost message.
NOTIFY_SWEEP_SECONDS = env_float("NOTIFY_SWEEP_SECONDS", 5.0)
# A claimed ("sending") delivery holds a lease of its channel's timeout plus this margin; past
# it the worker is presumed dead and the sweep sends again (the claim still lets one sender win).
NOTIFY_LEASE_MARGIN_SECONDS = env_float("NOTIFY_LEASE_MARGIN_SECONDS", 5.0)
# A pending delivery no worker took within this (lost message, notify worker down) is sent by
# the sweep itself.
NOTIFY_PENDING_GRACE_SECONDS = env_float("NOTIFY_PENDING_GRACE_SECONDS", 15.0)

# --- Incident core: noise control sweeps and the severity classifier -------------------------
# The trained severity classifier (manage.py train_severity) proposes a level next to the rules;
# false keeps only the rules even when a trained model exists.
SEVERITY_CLASSIFIER_ENABLED = env_bool("SEVERITY_CLASSIFIER_ENABLED", True)
# On PostgreSQL a new alert joining an open incident takes one read and one write (fast_join.py);
# false sends every signal down the general path (the property test replays histories both ways).
INCIDENTS_FAST_PATH = env_bool("INCIDENTS_FAST_PATH", True)

# --- Issue 11: post-incident reviews, action items, incident cost, reports -------------------
# One currency for every incident cost and report (ISO 4217); cost lines in another are refused.
COST_CURRENCY = env_str("COST_CURRENCY", "EUR").strip().upper()
# Responder time: a yearly salary over 2,080 working hours (52 weeks x 40 h), as Netflix Dispatch does.
INCIDENT_COST_HOURLY_RATE = env_str("INCIDENT_COST_HOURLY_RATE", "")  # empty: 50,000 / 2,080
# Levels whose incidents need a published review before they may be closed (comma-separated).
REVIEW_REQUIRED_LEVELS = tuple(int(v) for v in env_list("REVIEW_REQUIRED_LEVELS", ["1", "2"]))
# A review is due this many business days (Mon-Fri, in the team's time zone) after resolution.
REVIEW_DUE_BUSINESS_DAYS = env_int("REVIEW_DUE_BUSINESS_DAYS", 5, minimum=1)
# A finished action item is watched this long for a recurrence before it is marked "held".
ACTION_ITEM_WATCH_DAYS = env_int("ACTION_ITEM_WATCH_DAYS", 30, minimum=1)
# --- Console (issue 12): SLA clocks per level and live updates -------------------------------
# Time to acknowledge / to resolve per level, "level:ack/resolve" in minutes, "-" for no target
# (Level 4 is handled in the digest, so nobody is chased to acknowledge it). Acknowledge targets
# match the escalation timers (incidents/choices.py SEVERITY_ACK_TARGETS).
INCIDENTS_SLA = env_str("INCIDENTS_SLA", "1:5/240,2:15/480,3:240/4320,4:-/20160")
# A clock is "at risk" once less than this share of its target remains.
INCIDENTS_SLA_AT_RISK = env_float("INCIDENTS_SLA_AT_RISK", 0.25)
# How often an open queue asks the server what changed (seconds): a cheap indexed read.
CONSOLE_POLL_SECONDS = env_int("CONSOLE_POLL_SECONDS", 5, minimum=1)
# --- Issue 13: capacity forecasts (time to exhaustion) -------------------------------------------
# A capacity series raises a signal when its trend's upper bound reaches the limit within this horizon.
CAPACITY_HORIZON_HOURS = env_int("CAPACITY_HORIZON_HOURS", 7 * 24, minimum=1)
# The trend is fitted on this much recent history: long enough to see through a daily cycle, short
# enough that last month's cleanup does not hide this week's growth.
CAPACITY_FIT_HOURS = env_int("CAPACITY_FIT_HOURS", 72, minimum=6)
# --- #11 Learning and accounting: model and service cost, ROI, cost forecasts ---------------
# Model and service costs use COST_CURRENCY (above), the one currency of every cost and report.
# FOCUS rows are allocated to a model by this tag (`model=<name>`), else to a service by `service=<name>`.
COST_ALLOCATION_TAG = env_str("COST_ALLOCATION_TAG", "model")
# A month costing more than this multiple of the median of the three before it is a cost spike.
COST_SPIKE_FACTOR = env_float("COST_SPIKE_FACTOR", 1.5)
