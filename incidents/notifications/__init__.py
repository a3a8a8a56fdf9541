"""Notification channels: one small module per transport behind `base.Channel`, looked up by kind."""
from __future__ import annotations

# Importing the transports registers them with the registry.
from . import email, inapp, slack, webhook  # noqa: F401
