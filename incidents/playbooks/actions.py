"""Registry of playbook actions: `@register_action("name")` on `func(*, incident, params) -> ActionResult`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ActionFunc = Callable[..., "ActionResult"]

_ACTIONS: dict[str, ActionFunc] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    ok: bool
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class UnknownAction(LookupError):
    pass


def register_action(name: str) -> Callable[[ActionFunc], ActionFunc]:
    """Register `func` under `name`; re-registering the same function (module reload) is harmless."""

    def decorate(func: ActionFunc) -> ActionFunc:
        existing = _ACTIONS.get(name)
        if existing is not None and existing.__qualname__ != func.__qualname__:
            raise ValueError(f"Playbook action {name!r} is already registered by {existing.__module__}.")
        _ACTIONS[name] = func
        return func

    return decorate


def get_action(name: str) -> ActionFunc:
    try:
        return _ACTIONS[name]
    except KeyError:
        raise UnknownAction(f"No playbook action named {name!r}.") from None


def action_names() -> list[str]:
    return sorted(_ACTIONS)
