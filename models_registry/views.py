"""Pages of the models_registry app."""
from __future__ import annotations

from django.shortcuts import render


def index(request):
    return render(request, "models_registry/index.html")
