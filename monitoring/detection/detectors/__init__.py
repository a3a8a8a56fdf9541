"""Built-in detectors; importing this package registers them."""

from __future__ import annotations

from . import adaptive, blend, ewma, robust_z  # noqa: F401
