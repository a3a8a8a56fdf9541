"""Telemetry and alert intake, metric series, anomaly detection; raises signals into incidents."""
