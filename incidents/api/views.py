"""Views of the incidents API."""
from __future__ import annotations
