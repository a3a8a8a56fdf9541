"""Commit durability per transaction: what must survive a database crash, and what may be re-sent.

A new or reopened incident pages people and a status change stops timers: those commit
synchronously. Repeats and alerts joining an existing incident commit asynchronously on
PostgreSQL (no wait for the WAL flush): a database crash can lose the last fraction of a second
of them, and every source re-sends firing alerts, so they come back. This is what lets one
database absorb an alert storm.
"""
from __future__ import annotations

from django.db import connection


def commit_relaxed() -> None:
    """Let the current transaction commit without waiting for the WAL flush (PostgreSQL only)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def commit_durable() -> None:
    """Undo `commit_relaxed` for this transaction: it now holds something that must not be lost."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")
