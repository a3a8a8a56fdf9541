"""Signals to alerts to incidents: dedup, noise control, correlation, severity, lifecycle, response."""
