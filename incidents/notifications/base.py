"""The channel contract: `send(delivery)` hands one delivery to a transport or raises `TransportError`."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from incidents.models import Delivery


class TransportError(Exception):
    """A failed hand-over. `permanent` errors (4xx, bad config) are not retried and mark the endpoint unhealthy."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What every channel renders from: built once per delivery by the notification service."""

    subject: str
    text: str
    html: str = ""
    url: str = ""
    level: int | None = None
    level_label: str = ""
    colour: str = "#6b7280"
    kind: str = "page"
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable facts for webhooks

    @classmethod
    def from_delivery(cls, delivery: Delivery) -> Message:
        stored = dict(delivery.message or {})
        allowed = {"subject", "text", "html", "url", "level", "level_label", "colour", "kind", "data"}
        return cls(**{k: v for k, v in stored.items() if k in allowed})


class Channel(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def send(self, delivery: Delivery) -> None:
        """Hand the delivery to the transport; raise TransportError on failure."""
