"""Tasks of the organisation app."""
from __future__ import annotations

import socket

from celery import shared_task

from . import services


@shared_task(name="core.process_connection_test")
def process_connection_test(test_id: int) -> bool:
    return services.connection_test_process(test_id=test_id, worker=socket.gethostname())
