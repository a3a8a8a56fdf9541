"""Alert intake parsers by kind; each format module registers its parser on import."""
from __future__ import annotations

from .base import IntakeParser

_PARSERS: dict[str, IntakeParser] = {}


def register(cls: type[IntakeParser]) -> type[IntakeParser]:
    _PARSERS[cls.kind] = cls()
    return cls


def get_parser(kind: str) -> IntakeParser:
    try:
        return _PARSERS[kind]
    except KeyError:
        raise LookupError(f"no alert intake parser for {kind!r}; known: {sorted(_PARSERS)}") from None


def kinds() -> list[str]:
    return sorted(_PARSERS)
