"""The cost ledger: entries typed in (admin, API) or imported whole from a FinOps FOCUS CSV, and
their allocation to calendar months (an entry spanning months is split in proportion to time)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from core.exceptions import InvalidInput
from core.models import Service

from ..choices import CostCategory, CostSource
from ..models import CostEntry, CostImport, RegisteredModel

FOCUS_COLUMNS = (
    "BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "ServiceName", "ResourceId", "Tags",
)
# Without a `cost_category` tag, FOCUS's optional ServiceCategory says which infrastructure line it is.
FOCUS_SERVICE_CATEGORIES = {
    "compute": CostCategory.INFRA_COMPUTE,
    "storage": CostCategory.INFRA_STORAGE,
    "networking": CostCategory.INFRA_NETWORK,
    "network": CostCategory.INFRA_NETWORK,
}
MAX_FOCUS_BYTES = 20 * 1024 * 1024  # a month of a mid-size account's FOCUS export; more is a wrong file
MAX_REPORTED_ERRORS = 200  # enough to fix a file; a file wrong on every row says so in the count


class CostImportInvalid(InvalidInput):
    """A FOCUS file refused whole: `errors` lists each bad row (`row` = CSV line, header is line 1)."""

    code = "invalid_focus_file"

    def __init__(self, message: str, *, errors: list[dict[str, Any]], field: str | None = "file") -> None:
        super().__init__(message, field=field)
        self.errors = errors


@dataclass(frozen=True, slots=True, kw_only=True)
class CostOwner:
    """Who a cost is allocated to: exactly one of a model and a service."""

    model: RegisteredModel | None = None
    service: Service | None = None

    @property
    def label(self) -> str:
        return f"model {self.model.name}" if self.model else f"service {self.service}"


def currency() -> str:
    return str(settings.COST_CURRENCY)


def amount_parse(value: Any, *, field: str, required: bool = True) -> Decimal | None:
    """A non-negative money amount from a number or a numeric string; InvalidInput naming `field`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{field} is required.", field=field)
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number, not {value!r}.", field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"{field} must be a number, not {value!r}.", field=field) from None
    if not amount.is_finite():
        raise InvalidInput(f"{field} must be a finite number.", field=field)
    if amount < 0:
        raise InvalidInput(f"{field} must not be negative ({amount}); enter credits as a separate note.", field=field)
    if amount >= Decimal("1e12"):
        raise InvalidInput(f"{field} is too large ({amount}).", field=field)
    return amount.quantize(Decimal("0.01"))


def category_parse(value: Any, *, field: str = "category") -> str:
    text = str(value or "").strip().lower()
    if text not in CostCategory.values:
        raise InvalidInput(f"Unknown {field} {value!r}; use one of {', '.join(CostCategory.values)}.", field=field)
    return text


def currency_check(value: Any, *, field: str = "currency") -> str:
    text = str(value or "").strip().upper() or currency()
    if text != currency():
        raise InvalidInput(f"Costs are kept in {currency()}; {text!r} is not accepted.", field=field)
    return text


def _moment(value: Any, *, field: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value or "").strip()
        parsed = parse_datetime(text) if text else None
        if parsed is None and len(text) == 10:
            parsed = parse_datetime(text + "T00:00:00")
        if parsed is None:
            raise InvalidInput(f"{field} must be an ISO 8601 date or time, not {value!r}.", field=field)
        moment = parsed
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cost_entry_create(
    *, owner: CostOwner, category: str, period_start: Any, period_end: Any, amount: Any,
    currency_code: str = "", billed_amount: Any = None, source: str = CostSource.API, description: str = "",
) -> CostEntry:
    """Validate and store one ledger entry (InvalidInput naming the field, nothing stored)."""
    entry = cost_entry_build(
        owner=owner, category=category, period_start=period_start, period_end=period_end, amount=amount,
        currency_code=currency_code, billed_amount=billed_amount, source=source, description=description,
    )
    entry.save()
    return entry


def cost_entry_build(
    *, owner: CostOwner, category: str, period_start: Any, period_end: Any, amount: Any,
    currency_code: str = "", billed_amount: Any = None, source: str = CostSource.API, description: str = "",
    provider_service: str = "", resource_id: str = "",
) -> CostEntry:
    if (owner.model is None) == (owner.service is None):
        raise InvalidInput("A cost belongs to exactly one model or one service.", field="model")
    start = _moment(period_start, field="period_start")
    end = _moment(period_end, field="period_end")
    if end <= start:
        raise InvalidInput("period_end must be after period_start.", field="period_end")
    return CostEntry(
        model=owner.model, service=owner.service, category=category_parse(category),
        period_start=start, period_end=end, amount=amount_parse(amount, field="amount") or Decimal("0"),
        billed_amount=amount_parse(billed_amount, field="billed_amount", required=False),
        currency=currency_check(currency_code), source=source, description=str(description or "")[:500],
        provider_service=provider_service[:200], resource_id=resource_id[:500],
    )


# --- FOCUS import ---------------------------------------------------------------------------


def tags_parse(text: str) -> dict[str, str]:
    """FOCUS Tags: a JSON object; `k=v;k=v` (or commas) is accepted too, as some exporters flatten it."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            tags = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"Tags is not a JSON object: {exc.msg}.", field="Tags") from None
        if not isinstance(tags, dict):
            raise InvalidInput("Tags must be a JSON object.", field="Tags")
        return {str(k).strip(): str(v).strip() for k, v in tags.items()}
    tags = {}
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"Tag {part.strip()!r} is not key=value.", field="Tags")
        tags[key.strip()] = value.strip()
    return tags


def _focus_owner(tags: dict[str, str], *, models: dict[str, RegisteredModel],
                 services: dict[str, Service]) -> CostOwner | None:
    tag = str(settings.COST_ALLOCATION_TAG)
    if tags.get(tag):
        model = models.get(tags[tag])
        if model is None:
            raise InvalidInput(f"Tag {tag}={tags[tag]!r} names no registered model.", field="Tags")
        return CostOwner(model=model)
    if tags.get("service"):
        service = services.get(tags["service"])
        if service is None:
            raise InvalidInput(f"Tag service={tags['service']!r} names no service.", field="Tags")
        return CostOwner(service=service)
    return None


def _focus_category(row: dict[str, str], tags: dict[str, str]) -> str:
    if tags.get("cost_category"):
        return category_parse(tags["cost_category"], field="Tags")
    mapped = FOCUS_SERVICE_CATEGORIES.get((row.get("ServiceCategory") or "").strip().lower())
    if mapped is None:
        raise InvalidInput(
            "No cost category: add a cost_category tag (or a ServiceCategory of Compute, Storage or Networking).",
            field="Tags",
        )
    return mapped


@dataclass(slots=True)
class _Parsed:
    entries: list[CostEntry] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0


def focus_parse(content: bytes | str) -> _Parsed:
    """Every row checked; nothing written. Bad rows are listed by CSV line number."""
    if isinstance(content, bytes):
        if len(content) > MAX_FOCUS_BYTES:
            raise CostImportInvalid(f"The file is over {MAX_FOCUS_BYTES // 1024 // 1024} MB.", errors=[])
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CostImportInvalid("The file is not UTF-8 text.", errors=[]) from None
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in FOCUS_COLUMNS if c not in header]
    if missing:
        raise CostImportInvalid(
            f"Missing FOCUS column(s): {', '.join(missing)}.",
            errors=[{"row": 1, "field": c, "message": "missing column"} for c in missing], field=missing[0],
        )
    reader.fieldnames = header
    models = {m.name: m for m in RegisteredModel.objects.all()}
    services = {s.name: s for s in Service.objects.all()}
    parsed = _Parsed()
    for index, row in enumerate(reader):
        line = index + 2  # header is line 1 (a quoted multi-line cell would shift this; FOCUS has none)
        parsed.rows += 1
        try:
            if None in row:
                raise InvalidInput("More cells than columns.", field="row")
            if "BillingCurrency" in row:
                currency_check(row["BillingCurrency"], field="BillingCurrency")
            billed = amount_parse(row["BilledCost"], field="BilledCost")
            effective = amount_parse(row["EffectiveCost"], field="EffectiveCost")
            tags = tags_parse(row["Tags"])
            owner = _focus_owner(tags, models=models, services=services)
            start = _moment(row["ChargePeriodStart"], field="ChargePeriodStart")
            end = _moment(row["ChargePeriodEnd"], field="ChargePeriodEnd")
            if owner is None:
                parsed.skipped += 1
                continue
            parsed.entries.append(cost_entry_build(
                owner=owner, category=_focus_category(row, tags), period_start=start, period_end=end,
                amount=effective, billed_amount=billed, source=CostSource.FOCUS,
                provider_service=(row["ServiceName"] or "").strip(), resource_id=(row["ResourceId"] or "").strip(),
                description=f"FOCUS line {line}",
            ))
        except InvalidInput as exc:
            if len(parsed.errors) < MAX_REPORTED_ERRORS:
                parsed.errors.append({"row": line, "field": exc.field or "", "message": exc.message})
            else:
                parsed.errors.append({"row": line, "field": exc.field or "", "message": "(more errors not shown)"})
                break
    if parsed.rows == 0:
        raise CostImportInvalid("The file has a header but no rows.", errors=[])
    return parsed


def focus_import(*, content: bytes | str, filename: str, user: Any = None) -> CostImport:
    """Import a FOCUS file whole, or nothing: CostImportInvalid lists every bad row by line."""
    raw = content.encode() if isinstance(content, str) else content
    parsed = focus_parse(content)
    if parsed.errors:
        first = parsed.errors[0]
        raise CostImportInvalid(
            f"{len(parsed.errors)} bad row(s); nothing was imported. First: line {first['row']}, "
            f"{first['field']}: {first['message']}",
            errors=parsed.errors,
        )
    with transaction.atomic():
        batch = CostImport.objects.create(
            filename=filename[:255], sha256=hashlib.sha256(raw).hexdigest(), rows=parsed.rows,
            entries=len(parsed.entries), skipped=parsed.skipped,
            total=sum((e.amount for e in parsed.entries), Decimal("0")), currency=currency(),
            imported_by=user if getattr(user, "pk", None) else None,
        )
        for entry in parsed.entries:
            entry.cost_import = batch
        CostEntry.objects.bulk_create(parsed.entries, batch_size=1000)
    return batch


# --- allocation to months -----------------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def month_add(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def months_between(start: datetime, end: datetime) -> list[datetime]:
    """Month starts of the months that overlap [start, end)."""
    months, current = [], month_start(start)
    while current < end:
        months.append(current)
        current = month_add(current, 1)
    return months


def monthly_costs(*, owner: CostOwner, start: datetime, end: datetime) -> dict[datetime, dict[str, float]]:
    """Cost per month start and category over [start, end), entries split by their share of time."""
    scope = Q(model=owner.model) if owner.model is not None else Q(service=owner.service)
    entries = CostEntry.objects.filter(scope, period_start__lt=end, period_end__gt=start).values_list(
        "category", "period_start", "period_end", "amount"
    )
    return _allocate(entries, start=start, end=end)


def _allocate(entries: Iterable[tuple[str, datetime, datetime, Decimal]], *, start: datetime,
              end: datetime) -> dict[datetime, dict[str, float]]:
    result: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for category, p_start, p_end, amount in entries:
        span = (p_end - p_start).total_seconds()
        for month in months_between(max(p_start, start), min(p_end, end)):
            lo, hi = max(p_start, month, start), min(p_end, month_add(month, 1), end)
            if hi > lo:
                result[month][category] += float(amount) * (hi - lo).total_seconds() / span
    return {m: dict(cats) for m, cats in result.items()}


def cost_owner_resolve(*, model: Any = None, service: Any = None) -> CostOwner:
    """The owner named by a model name or a service name (exactly one), InvalidInput naming the field."""
    model_name, service_name = str(model or "").strip(), str(service or "").strip()
    if bool(model_name) == bool(service_name):
        raise InvalidInput("Give exactly one of model (a model name) and service (a service name).", field="model")
    if model_name:
        found = RegisteredModel.objects.filter(name=model_name).first()
        if found is None:
            raise InvalidInput(f"No registered model named {model_name!r}.", field="model")
        return CostOwner(model=found)
    found_service = Service.objects.filter(name=service_name).first()
    if found_service is None:
        raise InvalidInput(f"No service named {service_name!r}.", field="service")
    return CostOwner(service=found_service)
