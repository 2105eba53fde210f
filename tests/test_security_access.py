"""Access: session fixation, CSRF on every unsafe route, login throttling, token revocation, password hashing."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from argon2 import PasswordHasher, Type, extract_parameters

from tests.factory import PASSWORD
from tests.faults.probe import WriteProbe
from wartel.auth import passwords
from wartel.auth.credentials import SESSION_COOKIE

_PARAM = re.compile(r"{[^}]+}")
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


async def _login(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_a_session_id_planted_before_login_is_not_the_one_after(client, factory) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    await factory.user("security", facility_id=fid, username="victim")
    planted = "planted-session-id-0123456789abcdef"
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: planted})
    r = await _login(client, "victim")
    assert r.status == 200, await r.text()
    issued = r.cookies[SESSION_COOKIE].value
    assert issued and issued != planted
    # The planted id did not become the victim's session.
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: planted})
    assert (await client.get("/api/v1/auth/me")).status == 401
    # Every login issues a new id, and logging out kills the old one for good.
    client.session.cookie_jar.clear()
    r = await _login(client, "victim")
    assert r.status == 200, await r.text()
    second = r.cookies[SESSION_COOKIE].value
    assert second not in (issued, planted)
    csrf = (await (await client.get("/api/v1/auth/me")).json())["csrf_token"]
    assert (await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status == 204
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: second})
    assert (await client.get("/api/v1/auth/me")).status == 401


def _unsafe_routes(app: web.Application) -> list[tuple[str, str]]:
    seen = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in _UNSAFE and path:
            seen.append((route.method, _PARAM.sub("1", path)))
    return sorted(set(seen))


async def test_csrf_is_required_on_every_unsafe_cookie_request(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    await factory.user("admin", username="boss")
    r = await _login(client, "boss")
    assert r.status == 200, await r.text()
    csrf = (await r.json())["csrf_token"]
    routes = _unsafe_routes(client.server.app)
    assert len(routes) > 5, routes
    probe = WriteProbe(owner_conn)
    before = await probe.snapshot()
    refused = []
    for method, path in routes:
        for headers, data in (({}, None), ({"X-CSRF-Token": "wrong-" + csrf}, None),
                              ({"Content-Type": "application/x-www-form-urlencoded"}, "csrf_token=wrong")):
            resp = await client.request(method, path, headers=headers, data=data, allow_redirects=False)
            body = await resp.read()
            assert resp.status == 403, f"{method} {path} {headers}: {resp.status} {body[:300]!r}"
            if resp.content_type == "application/problem+json":
                assert b'"csrf_failed"' in body, body
            refused.append(path)
    assert not WriteProbe.changed(before, await probe.snapshot())
    # With the right token the same session works.
    r = await client.post("/api/v1/auth/tokens", json={"name": "with csrf"}, headers={"X-CSRF-Token": csrf})
    assert r.status == 201, await r.text()


async def test_bearer_requests_need_no_csrf_and_cookies_are_not_bearer(client, factory) -> None:  # type: ignore[no-untyped-def]
    admin = await factory.as_role("admin")
    r = await admin.post("/api/v1/auth/tokens", json={"name": "bearer"})
    assert r.status == 201, await r.text()


async def test_login_is_throttled_after_repeated_failures(client, factory, settings) -> None:  # type: ignore[no-untyped-def]
    await factory.user("officer", facility_id=await factory.facility(), username="target")
    for _ in range(settings.login_max_failures):
        r = await _login(client, "target", "wrong password")
        assert r.status == 401, await r.text()
    for password in ("wrong password", PASSWORD):  # even the right password waits now
        r = await _login(client, "target", password)
        assert r.status == 429, await r.text()
        assert int(r.headers["Retry-After"]) > 0
        assert (await r.json(content_type=None))["code"] == "login_throttled"
    # Another account is not locked by the attack on this one.
    await factory.user("officer", facility_id=await factory.facility(), username="bystander")
    assert (await _login(client, "bystander")).status == 200


async def test_a_revoked_token_is_refused_at_once(client, factory) -> None:  # type: ignore[no-untyped-def]
    admin = await factory.as_role("admin")
    r = await admin.post("/api/v1/auth/tokens", json={"name": "integration"})
    created = await r.json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status == 200
    r = await admin.delete(f"/api/v1/auth/tokens/{created['id']}")
    assert r.status in (200, 204), await r.text()
    r = await client.get("/api/v1/auth/me", headers=headers)
    assert r.status == 401
    assert (await r.json(content_type=None))["code"] == "invalid_token"
    # A token that was never issued, and a malformed header, are refused the same way.
    for bad in ("Bearer wtl_" + "A" * 43, "Bearer ", "Basic dXNlcjpwYXNz"):
        r = await client.get("/api/v1/auth/me", headers={"Authorization": bad})
        assert r.status == 401, (bad, await r.text())


async def test_only_hashes_of_secrets_are_stored(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    admin = await factory.as_role("admin")
    created = await (await admin.post("/api/v1/auth/tokens", json={"name": "x"})).json()
    await factory.user("officer", facility_id=await factory.facility(), username="stored")
    session = (await _login(client, "stored")).cookies[SESSION_COOKIE].value
    rows = []
    for table in ("api_tokens", "sessions", "users"):
        rows += [str(dict(r)) for r in await owner_conn.fetch(f"SELECT * FROM {table}")]  # noqa: S608 - fixed names
    dump = "\n".join(rows)
    assert created["token"] not in dump and admin.token not in dump
    assert session and session not in dump
    assert PASSWORD not in dump


def test_passwords_are_hashed_with_argon2id_and_strong_parameters() -> None:
    stored = passwords.hash_password("a long enough password")
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert stored.startswith("$argon2id$v=19$")
    # RFC 9106 second recommended option: 64 MiB, 3 passes, 4 lanes; a 16-byte salt and 32-byte hash.
    assert params.memory_cost >= 64 * 1024, params
    assert params.time_cost >= 3, params
    assert params.parallelism >= 1 and params.salt_len >= 16 and params.hash_len >= 32, params
    assert passwords.verify_password(stored, "a long enough password")
    assert not passwords.verify_password(stored, "a long enough passwore")
    assert not passwords.verify_password(None, "anything")
    assert not PasswordHasher.from_parameters(params).check_needs_rehash(stored)
    # Two hashes of one password differ (random salt).
    assert passwords.hash_password("same") != passwords.hash_password("same")


@pytest.mark.parametrize("path", ["/login"])
async def test_the_login_form_needs_its_own_csrf_token(client, factory, owner_conn, path: str) -> None:  # type: ignore[no-untyped-def]
    await factory.user("officer", facility_id=await factory.facility(), username="formuser")
    sessions = await owner_conn.fetchval("SELECT count(*) FROM sessions")
    r = await client.post(path, data={"username": "formuser", "password": PASSWORD, "login_token": "forged"},
                          allow_redirects=False)
    assert r.status == 403, await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM sessions") == sessions
