"""The series page's subtitle has no stray separator when a series has no labels, and values are rounded."""
from __future__ import annotations

import re

import pytest

from core.choices import Role

pytestmark = pytest.mark.django_db


def test_a_series_without_labels_has_no_stray_separator(make_series, client, make_user):
    series = make_series(labels={}, threshold=3.0000000000000004)
    client.force_login(make_user(Role.MANAGER))
    page = client.get(f"/monitoring/series/{series.pk}/").content.decode()
    subtitle = re.search(r'<p class="muted">\s*(.*?)</p>', page.split("<h1>", 1)[1], re.S).group(1).strip()
    assert subtitle and not subtitle.startswith("·")
    assert "threshold 3" in subtitle and "0000000000000004" not in subtitle
