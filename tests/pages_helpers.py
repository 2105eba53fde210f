"""Logging in through the login page, as a browser would, and reading forms back from pages."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from tests.factory import PASSWORD

_INPUT = re.compile(r'<input type="hidden" name="(?P<name>[a-z_]+)" value="(?P<value>[^"]*)">')


def hidden_fields(html: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in _INPUT.finditer(html)}


async def page_login(client: TestClient, username: str, *, lang: str = "id", next: str = "") -> str:
    """Log in through /login; returns the session's CSRF token, read from the next page's forms."""
    r = await client.get(f"/login?lang={lang}")
    assert r.status == 200, await r.text()
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "login_token": token,
                                          "language": lang, "next": next}, allow_redirects=False)
    assert r.status == 303, await r.text()
    r = await client.get("/login?next=/reports&lang=" + lang)  # logged in: any page carries the token
    fields = hidden_fields(await r.text())
    assert "csrf_token" in fields, await r.text()
    return fields["csrf_token"]
