"""Channel registry: transports register by kind; the delivery service looks them up."""
from __future__ import annotations

from .base import Channel, TransportError

_CHANNELS: dict[str, Channel] = {}


def register(cls: type[Channel]) -> type[Channel]:
    _CHANNELS[cls.kind] = cls()
    return cls


def get_channel(kind: str) -> Channel:
    try:
        return _CHANNELS[kind]
    except KeyError:
        raise TransportError(f"no channel registered for kind {kind!r}", permanent=True) from None


def channel_kinds() -> list[str]:
    return sorted(_CHANNELS)
