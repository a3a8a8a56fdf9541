"""E-mail channel: plain text + HTML through Django's configured mail backend (SMTP in production)."""
from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from incidents.choices import ChannelKind

from .base import Channel, Message, TransportError
from .registry import register


@register
class EmailChannel(Channel):
    kind = ChannelKind.EMAIL

    def send(self, delivery) -> None:
        if not delivery.address:
            raise TransportError("recipient has no e-mail address", permanent=True)
        message = Message.from_delivery(delivery)
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.address],
            headers={"X-AIOps-Delivery": str(delivery.pk)},
            connection=get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT),
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        try:
            mail.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(c >= 500 for c in codes)
            raise TransportError(f"recipient refused: {exc.recipients}", permanent=permanent) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server saying "never"; 4xx is "try later" (greylisting, full mailbox).
            raise TransportError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP transport: {exc}", permanent=False) from exc
