"""The report framework: periods, the frozen ReportResult every report returns, CSV, and the registry.

A report is one module with a function `compute(*, period) -> ReportResult` registered by name
(`@report_register("operations", title=..., description=...)`). The page, the CSV, the API and
`manage.py report NAME --period ...` all render the same result; a result depends only on the stored
data and the period (never on "now"), so the same data gives the same numbers.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.exceptions import InvalidInput

MAX_PERIOD_DAYS = 400  # a year plus slack: longer ranges are several reports, not one


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """[start, end) in the site time zone, with the text it was parsed from."""

    label: str
    start: datetime
    end: datetime
    kind: str  # day, week, month, year, range

    def buckets(self) -> list[tuple[str, datetime, datetime]]:
        """Sub-periods for trends: days up to two months, else months."""
        out = []
        if (self.end - self.start) <= timedelta(days=62):
            cursor = self.start
            while cursor < self.end:
                nxt = _local_midnight(timezone.localtime(cursor).date() + timedelta(days=1))
                out.append((f"{timezone.localtime(cursor):%Y-%m-%d}", cursor, min(nxt, self.end)))
                cursor = nxt
            return out
        cursor = self.start
        while cursor < self.end:
            local = timezone.localtime(cursor).date()
            first_next = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
            nxt = _local_midnight(first_next)
            out.append((f"{local:%Y-%m}", cursor, min(nxt, self.end)))
            cursor = nxt
        return out

    def previous(self) -> Period:
        """The period of the same length just before (week-on-week comparisons)."""
        length = self.end - self.start
        return Period(label=f"before {self.label}", start=self.start - length, end=self.start, kind=self.kind)

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat(), "kind": self.kind}


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^(\d{4})$")


def period_parse(text: str) -> Period:
    """`2026-11` (month), `2026-W48` (ISO week), `2026-11-05` (day), `2026` (year) or
    `2026-11-01..2026-11-30` (both days included); InvalidInput naming `period` otherwise."""
    raw = (text or "").strip()
    try:
        if ".." in raw:
            first, last = (date.fromisoformat(part.strip()) for part in raw.split("..", 1))
            if last < first:
                raise InvalidInput(f"Period {raw!r} ends before it starts.", field="period")
            if (last - first).days >= MAX_PERIOD_DAYS:
                raise InvalidInput(f"Period {raw!r} is longer than {MAX_PERIOD_DAYS} days.", field="period")
            return Period(label=raw, start=_local_midnight(first), end=_local_midnight(last + timedelta(days=1)),
                          kind="range")
        if m := _WEEK.match(raw):
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            return Period(label=f"{int(m.group(1))}-W{int(m.group(2)):02d}", start=_local_midnight(monday),
                          end=_local_midnight(monday + timedelta(days=7)), kind="week")
        if m := _MONTH.match(raw):
            year, month = int(m.group(1)), int(m.group(2))
            first = date(year, month, 1)
            nxt = date(year + (month == 12), month % 12 + 1, 1)
            return Period(label=raw, start=_local_midnight(first), end=_local_midnight(nxt), kind="month")
        if _DAY.match(raw):
            day = date.fromisoformat(raw)
            return Period(label=raw, start=_local_midnight(day), end=_local_midnight(day + timedelta(days=1)),
                          kind="day")
        if m := _YEAR.match(raw):
            year = int(m.group(1))
            return Period(label=raw, start=_local_midnight(date(year, 1, 1)),
                          end=_local_midnight(date(year + 1, 1, 1)), kind="year")
    except ValueError:
        pass
    raise InvalidInput(
        f"Period {raw[:40]!r} is not one of 2026-11, 2026-W48, 2026-11-05, 2026 or 2026-11-01..2026-11-30.",
        field="period")


def period_default(kind: str, *, today: date | None = None) -> Period:
    """The last complete day / ISO week / month before `today`."""
    today = today or timezone.localdate()
    if kind == "day":
        return period_parse((today - timedelta(days=1)).isoformat())
    if kind == "week":
        year, week, _ = (today - timedelta(days=7)).isocalendar()
        return period_parse(f"{year}-W{week:02d}")
    last_month = today.replace(day=1) - timedelta(days=1)
    return period_parse(f"{last_month:%Y-%m}")


# --- the result ---------------------------------------------------------------------------------

Cell = str | int | float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    key: str
    label: str
    value: Cell
    unit: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    key: str
    title: str
    kind: str  # "bar" or "line"
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]  # (label, values per label)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportResult:
    name: str
    title: str
    period: Period
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    definitions: tuple[tuple[str, str], ...] = ()  # (term, how it is computed)
    currency: str = ""

    def figure(self, key: str) -> Cell:
        return next(f.value for f in self.figures if f.key == key)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "period": self.period.as_dict(), "currency": self.currency,
            "figures": [{"key": f.key, "label": f.label, "value": f.value, "unit": f.unit} for f in self.figures],
            "tables": [{"key": t.key, "title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
                       for t in self.tables],
            "charts": [{"key": c.key, "title": c.title, "kind": c.kind, "labels": list(c.labels),
                        "series": [{"label": label, "values": list(values)} for label, values in c.series]}
                       for c in self.charts],
            "definitions": [{"term": term, "definition": text} for term, text in self.definitions],
        }

    def as_csv(self) -> str:
        """Figures, then every table (a title row, a header row, the rows), one CSV file."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([self.title, self.period.label, self.period.start.isoformat(), self.period.end.isoformat()])
        writer.writerow(["figure", "value", "unit"])
        for f in self.figures:
            writer.writerow([f.label, "" if f.value is None else f.value, f.unit])
        for t in self.tables:
            writer.writerow([])
            writer.writerow([t.title])
            writer.writerow(list(t.columns))
            for row in t.rows:
                writer.writerow(["" if c is None else c for c in row])
        return out.getvalue()


def money(value: Decimal | int | float | None) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))


def minutes(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 60, 1) if value is not None else None


def mean(values: list[timedelta]) -> timedelta | None:
    return sum(values, timedelta()) / len(values) if values else None


# --- the registry -------------------------------------------------------------------------------

ReportFunc = Callable[..., ReportResult]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSpec:
    name: str
    title: str
    description: str
    default_period: str  # day, week or month
    compute: ReportFunc
    emailed: bool = False  # managers may subscribe to it by e-mail
    extra: dict[str, Any] = field(default_factory=dict)


_REPORTS: dict[str, ReportSpec] = {}


def report_register(name: str, *, title: str, description: str, default_period: str = "month",
                    emailed: bool = False) -> Callable[[ReportFunc], ReportFunc]:
    """Register `compute(*, period) -> ReportResult` under `name`."""

    def decorate(func: ReportFunc) -> ReportFunc:
        existing = _REPORTS.get(name)
        if existing is not None and existing.compute.__qualname__ != func.__qualname__:
            raise ValueError(f"Report {name!r} is already registered by {existing.compute.__module__}.")
        _REPORTS[name] = ReportSpec(name=name, title=title, description=description,
                                    default_period=default_period, compute=func, emailed=emailed)
        return func

    return decorate


def report_specs() -> list[ReportSpec]:
    return [_REPORTS[name] for name in sorted(_REPORTS)]


def report_spec(name: str) -> ReportSpec:
    try:
        return _REPORTS[name]
    except KeyError:
        raise InvalidInput(f"No report named {name!r}; reports: {', '.join(sorted(_REPORTS))}.",
                           field="name") from None


def report_run(*, name: str, period: str | Period | None = None) -> ReportResult:
    """Parse the period (the report's default when empty) and compute the report."""
    spec = report_spec(name)
    parsed = period if isinstance(period, Period) else (
        period_parse(period) if period else period_default(spec.default_period))
    return spec.compute(period=parsed)
