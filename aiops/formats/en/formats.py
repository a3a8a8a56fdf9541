"""One date format everywhere (issue 12): ISO-like, 24-hour, with the time zone, whatever the locale says."""
from __future__ import annotations

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i T"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
