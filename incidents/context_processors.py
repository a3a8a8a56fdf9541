"""Template context: the signed-in person's unread in-app notification count for the top bar."""
from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from .selectors import user_unread_count


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: counted only when a template shows it.
    return {"unread_notifications": SimpleLazyObject(lambda: user_unread_count(user=user))}
