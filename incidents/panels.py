"""Panels on the incident page that other features fill: cost so far, probable root cause, similar past
incidents, the post-incident review, related anomalies, the model's metric chart.

The console lays the page out; each feature owns what its panel shows. A feature registers a provider
`func(*, incident, user) -> Panel | None` under a key (in its app's `AppConfig.ready`, as playbook actions
are registered); the page shows, in `order`, the panels whose provider returned one. `monitoring` and
`models_registry` register theirs the same way, so `incidents` never imports them.

The same data is in the API: `incident_panels_data` gives `{key: panel.data}` for the incident detail
endpoint, so `data` must be JSON-serialisable (use plain dicts, lists, str, int, float, bool, None;
datetimes as ISO strings; money as strings).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    key: str  # "cost", "rootcause", "similar", "review", "anomalies", "model", ...
    title: str
    template: str  # included with {"panel": this Panel, "incident": ..., "can_act": ...}
    data: dict[str, Any] = field(default_factory=dict)
    order: int = 100  # lower first


PanelProvider = Callable[..., "Panel | None"]

_PROVIDERS: dict[str, PanelProvider] = {}


def panel_register(key: str) -> Callable[[PanelProvider], PanelProvider]:
    """Register `func(*, incident, user) -> Panel | None` as the provider of panel `key`."""

    def decorate(func: PanelProvider) -> PanelProvider:
        existing = _PROVIDERS.get(key)
        if existing is not None and existing.__qualname__ != func.__qualname__:
            raise ValueError(f"Incident panel {key!r} is already registered by {existing.__module__}.")
        _PROVIDERS[key] = func
        return func

    return decorate


def panel_keys() -> list[str]:
    return sorted(_PROVIDERS)


def incident_panels(*, incident, user) -> list[Panel]:
    """The panels to show on `incident` for `user`, in order. A provider that fails is logged and skipped:
    a broken panel must never take the incident page down during an incident."""
    panels: list[Panel] = []
    for key, provider in _PROVIDERS.items():
        try:
            panel = provider(incident=incident, user=user)
        except Exception:
            logger.exception("incident panel %s failed for incident %s", key, getattr(incident, "pk", None))
            continue
        if panel is not None:
            panels.append(panel)
    return sorted(panels, key=lambda p: (p.order, p.key))


def incident_panels_data(*, incident, user) -> dict[str, dict[str, Any]]:
    return {p.key: p.data for p in incident_panels(incident=incident, user=user)}
