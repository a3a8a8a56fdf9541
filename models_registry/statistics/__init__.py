"""Pure statistics behind the model monitors (drift, performance, bias, operational); no database."""
from __future__ import annotations
