"""Severity colours are defined once (incidents.choices); the stylesheet, which cannot import Python, must agree."""
from __future__ import annotations

import re
from pathlib import Path

from incidents.choices import Severity

APP_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "app.css"


def test_the_stylesheet_levels_are_the_colours_of_the_choices():
    declared = dict(re.findall(r"--sev([0-9]+)\s*:\s*(#[0-9a-fA-F]{3,8})\s*;", APP_CSS.read_text()))
    assert {int(level): colour.lower() for level, colour in declared.items()} == {
        level.value: level.colour.lower() for level in Severity
    }


def test_notifications_use_the_level_colour_and_grey_for_no_level():
    from incidents.services.notifications import UNKNOWN_LEVEL_COLOUR, level_colour

    assert [level_colour(level) for level in Severity.values] == [Severity(level).colour for level in Severity.values]
    assert level_colour(None) == level_colour(9) == UNKNOWN_LEVEL_COLOUR
