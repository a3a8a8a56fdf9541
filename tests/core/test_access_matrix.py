"""Every URL pattern against every principal: anonymous, a token of the wrong kind, the right token,
operator, manager, executive, admin. The table is `tests/core/access_matrix.py`; an endpoint that is not
in it fails here, so nobody adds one without saying who may call it.

`MATRIX_DISCOVER=1 pytest tests/core/test_access_matrix.py -s` prints what every principal gets today.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from core.choices import Role

from .access_matrix import DEFAULT_TOKEN_KINDS, KWARGS_FOR, MATRIX, PRINCIPALS, SAMPLE_KWARGS, TOKEN_KINDS

pytestmark = pytest.mark.django_db

SKIPPED_NAMESPACES = {"admin"}  # Django's admin: staff only, covered by test_the_admin_is_for_admins_only


def url_patterns() -> Iterator[tuple[str, URLPattern]]:
    """(full name, pattern) of every named URL pattern outside the admin; unnamed ones as '<unnamed> path'."""

    def walk(resolver: URLResolver, namespace: str | None, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = entry.namespace or namespace
                if ns in SKIPPED_NAMESPACES:
                    continue
                yield from walk(entry, ns, prefix + str(entry.pattern))
            else:
                name = entry.name or f"<unnamed> {prefix}{entry.pattern}"
                yield (f"{namespace}:{name}" if namespace and entry.name else name), entry

    seen: dict[str, URLPattern] = {}
    for name, pattern in walk(get_resolver(), None, ""):
        if name.endswith("-format") or re.search(r"\\\.\(\?P<format>", str(pattern.pattern)):
            continue  # DRF's format-suffix twins share their view and rule
        seen.setdefault(name, pattern)
    yield from seen.items()


def sample_path(name: str, pattern: URLPattern) -> str:
    regex = pattern.pattern.regex
    kwargs = {key: KWARGS_FOR.get(name, {}).get(key, SAMPLE_KWARGS[key]) for key in regex.groupindex}
    return reverse(name, kwargs=kwargs)


def test_every_url_pattern_is_in_the_matrix():
    names = {name for name, _ in url_patterns()}
    missing = sorted(names - set(MATRIX))
    assert not missing, f"URL patterns with no access rule in tests/core/access_matrix.py: {missing}"
    stale = sorted(set(MATRIX) - names)
    assert not stale, f"access rules for URL names that no longer exist: {stale}"


@pytest.fixture
def principals(make_user, make_integration):
    """Clients for each principal; tokens are made per kind on demand."""
    users = {role: make_user(role, username=f"matrix-{role}") for role in
             (Role.OPERATOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)}
    tokens: dict[str, str] = {}

    def token_client(kind: str) -> APIClient:
        if kind not in tokens:
            tokens[kind] = make_integration(kind, name=f"matrix-{kind}")[1]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[kind]}")
        return client

    def client_for(principal: str, name: str) -> Client:
        own, other = TOKEN_KINDS.get(name, DEFAULT_TOKEN_KINDS)
        if principal == "anon":
            return APIClient()
        if principal in ("own", "tok"):
            return token_client(own if principal == "own" else other)
        client = APIClient()
        client.force_login(users[principal])
        return client

    return client_for


def outcome(response) -> str:
    if response.status_code >= 500:
        return "5"
    if response.status_code in (401, 403):
        return "D"
    if response.status_code in (301, 302) and "/login/" in response.get("Location", "") \
            and "next=" in response.get("Location", ""):
        return "D"
    return "A"


def call(client, method: str, path: str):
    if method == "GET":
        return client.get(path)
    return getattr(client, method.lower())(path, data={}, format="json")


def test_each_principal_gets_what_the_matrix_says(principals):
    discover = os.environ.get("MATRIX_DISCOVER") == "1"
    wrong: list[str] = []
    for name, pattern in url_patterns():
        path = sample_path(name, pattern)
        for method, rule in MATRIX.get(name, {}).items():
            got = "".join(outcome(call(principals(p, name), method, path)) for p in PRINCIPALS)
            if discover:
                print(f"{name:45s} {method:6s} {got}")
            if got != rule:
                wrong.append(f"{method} {path} ({name}): expected {rule}, got {got}  [{' '.join(PRINCIPALS)}]")
    assert not wrong, "\n".join(wrong)


def test_a_token_of_the_wrong_kind_is_told_which_kind_the_endpoint_takes(principals):
    response = principals("tok", "integration-alertmanager").post(
        reverse("integration-alertmanager"), data={}, format="json")
    assert response.status_code in (401, 403)
    assert "alertmanager" in response.json()["detail"]


def test_the_admin_is_for_staff_only(make_user):
    """Django's admin keeps its own rule: staff accounts (the demo's admins) only; a role is not enough."""
    for user, expected in ((make_user(Role.OPERATOR), 302), (make_user(Role.ADMIN), 302),
                           (make_user(Role.ADMIN, is_staff=True, is_superuser=True), 200)):
        client = Client()
        client.force_login(user)
        assert client.get("/admin/").status_code == expected, user.username
    assert Client().get("/admin/").status_code == 302
