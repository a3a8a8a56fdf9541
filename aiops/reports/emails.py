"""Report e-mails: managers subscribe to the e-mailed reports (daily business impact, weekly KPI) and get
each period once, on their e-mail and in-app channels, with a link to the page."""
from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from core.choices import Role
from core.exceptions import DomainError, InvalidInput
from incidents.choices import ChannelKind, DeliveryKind
from incidents.models import ReportSubscription
from incidents.services import notifications

from .base import ReportResult, period_default, report_spec

SUBSCRIBER_ROLES = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)  # report readers; operators get the digest
REPORT_CHANNELS = (ChannelKind.EMAIL, ChannelKind.INAPP)  # reading material, never a page


class NotSubscribable(DomainError):
    status_code = 403
    code = "not_subscribable"


def report_subscription_set(*, user, name: str, subscribed: bool) -> bool:
    """Subscribe `user` to report `name` (or stop); only e-mailed reports, only managers/executives/admins."""
    spec = report_spec(name)
    if not spec.emailed:
        raise InvalidInput(f"The {spec.title} report is not e-mailed.", field="name")
    if not (user.is_superuser or user.groups.filter(name__in=SUBSCRIBER_ROLES).exists()):
        raise NotSubscribable("Only managers, executives and admins subscribe to reports.", field="user")
    if subscribed:
        ReportSubscription.objects.get_or_create(user=user, report=name)
    else:
        ReportSubscription.objects.filter(user=user, report=name).delete()
    return subscribed


def report_subscribers(*, name: str) -> list:
    User = get_user_model()
    return list(User.objects.filter(report_subscriptions__report=name, is_active=True)
                .filter(Q(groups__name__in=SUBSCRIBER_ROLES) | Q(is_superuser=True)).distinct().order_by("pk"))


def report_text(result: ReportResult, *, url: str) -> str:
    lines = [f"{result.title} · {result.period.label}", ""]
    for figure in result.figures:
        value = "–" if figure.value is None else figure.value
        lines.append(f"{figure.label}: {value}{(' ' + figure.unit) if figure.unit else ''}")
    lines += ["", f"Charts, tables and CSV: {url}"]
    return "\n".join(lines) + "\n"


def report_email_send(*, name: str, today: date | None = None) -> int:
    """Send the report of its last complete period to its subscribers; re-running sends nothing twice."""
    spec = report_spec(name)
    period = period_default(spec.default_period, today=today)
    result = spec.compute(period=period)
    url = f"{settings.SITE_URL}/reports/{name}/?period={period.label}"
    subject = f"[AIOps] {result.title} report {period.label}"
    message = {"subject": subject, "text": report_text(result, url=url), "html": "", "url": url,
               "kind": DeliveryKind.REPORT, "data": {"report": name, **period.as_dict()}}
    targets = notifications.person_targets(users=report_subscribers(name=name), allowed=REPORT_CHANNELS)
    return notifications.deliveries_create(kind=DeliveryKind.REPORT, scope=f"{name}:{period.label}",
                                           targets=targets, message=message).created
