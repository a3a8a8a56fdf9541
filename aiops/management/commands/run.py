"""`run`: `runserver` plus the in-process scheduler when tasks run in-process (aiops/scheduler.py).

`runserver` itself stays Django's (staticfiles' command comes first); `make run` uses this one.
"""
from __future__ import annotations

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver

from aiops.scheduler import scheduler_start_if_needed


class Command(StaticfilesRunserver):
    help = StaticfilesRunserver.help + " Without a broker it also runs beat's table (escalation timers, sweeps)."

    def inner_run(self, *args, **options):
        # inner_run is the serving process (the autoreloader's child), so one scheduler runs per server.
        if scheduler_start_if_needed() is not None:
            self.stdout.write("In-process scheduler running beat's table (escalation timers, sweeps).")
        return super().inner_run(*args, **options)
