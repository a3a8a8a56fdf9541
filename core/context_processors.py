"""Template context: the signed-in person's roles, for showing only what they may do."""
from __future__ import annotations

from .choices import Role
from .selectors import user_roles


def roles(request):
    held = user_roles(getattr(request, "user", None))
    return {
        "user_roles": held,
        "can_act": bool(held & {Role.OPERATOR, Role.ADMIN}),
        "is_admin": Role.ADMIN in held,
    }
