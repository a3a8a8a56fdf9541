"""Pages of the monitoring app."""
from __future__ import annotations

from django.shortcuts import render


def index(request):
    return render(request, "monitoring/index.html")
