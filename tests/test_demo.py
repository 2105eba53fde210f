"""Demo data: what `make run` shows a first-time user, loaded once, logins that work."""

from __future__ import annotations

import re

from wartel.demo import load_demo


async def test_demo_loads_once_and_its_logins_work(owner_conn, client) -> None:  # type: ignore[no-untyped-def]
    lines = await load_demo(owner_conn)
    c = owner_conn
    assert await c.fetchval("SELECT count(*) FROM regions") >= 2
    zones = await c.fetch("SELECT time_zone, count(*) AS n FROM facilities GROUP BY time_zone")
    assert {r["time_zone"] for r in zones} >= {"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"}
    assert sum(r["n"] for r in zones) >= 6
    assert await c.fetchval("SELECT count(DISTINCT kind) FROM booths") == 2
    assert await c.fetchval("SELECT count(*) FROM opening_hours WHERE weekday = 1") == 2 * 6
    assert await c.fetchval("SELECT count(*) FROM closures WHERE kind = 'holiday'") >= 6
    per_facility = await c.fetch("SELECT count(*) AS n FROM inmates GROUP BY current_facility_id")
    assert all(25 <= r["n"] <= 40 for r in per_facility)
    statuses = {r["status"]: r["n"] for r in await c.fetch("SELECT status, count(*) AS n FROM contacts GROUP BY status")}
    assert statuses["verified"] > 0 and statuses["pending"] > 0
    assert await c.fetchval("SELECT count(*) FROM contacts WHERE is_legal_counsel AND status = 'verified'") >= 1
    assert await c.fetchval("SELECT bool_and(phone_e164 LIKE '+62%') FROM contacts")
    roles = {(r["role"], r["scope_facility_id"] is not None) for r in await c.fetch(
        "SELECT role, scope_facility_id FROM users")}
    assert roles >= {("officer", True), ("security", True), ("security", False), ("regional", False),
                     ("admin", False)}
    counts = await c.fetchval("SELECT (SELECT count(*) FROM inmates) + (SELECT count(*) FROM contacts)")

    assert await load_demo(owner_conn) == lines  # idempotent: same logins, nothing added
    assert await c.fetchval("SELECT (SELECT count(*) FROM inmates) + (SELECT count(*) FROM contacts)") == counts

    pairs = [re.search(r"(\S+) / (\S+)$", line).groups() for line in lines]  # type: ignore[union-attr]
    assert len(pairs) >= 5
    for username, password in pairs[:2]:
        client.session.cookie_jar.clear()  # a logged-in session would need its CSRF token to log in again
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status == 200, await r.text()
