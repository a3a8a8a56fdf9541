"""Configuration as code: teams, services (with dependencies), integrations (without secrets), notification
policies (with escalation steps), playbooks (with steps) and silences, exported to and applied from YAML.

`apply` is idempotent (a second run changes nothing), never deletes what the file does not mention, never
touches secrets (tokens, HMAC keys: they stay in the environment or the admin), and validates the whole
file before writing anything: one bad entry and nothing is stored. `dry_run` returns the same diff without
writing. Objects are matched by their natural key (name, slug, level).

It lives in `aiops` because it spans `core` and `incidents` (the shell is the only place that wires apps).
"""
from __future__ import annotations

from .apply import config_apply
from .export import SECTIONS, ApplyResult, Change, ConfigError, config_export

__all__ = ["SECTIONS", "ApplyResult", "Change", "ConfigError", "config_apply", "config_export"]
