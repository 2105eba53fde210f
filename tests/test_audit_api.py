"""The audit log over HTTP: scoped search, proofs a client can check, checkpoints, verification status."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from audit import Actor, LogRef, append, verification_status
from audit.merkle import verify_consistency, verify_inclusion
from audit.signing import verify_signature
from audit.verify import verify_database
from wartel import keys

ACTOR = Actor(type="user", id="1", role="officer", request_id="r")


async def _entries(conn, log: LogRef, n: int, action: str = "booking.created") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        async with conn.transaction():
            await append(conn, log, action=action, subject_type="booking", subject_id=i, payload={"i": i},
                         actor=ACTOR)


async def _world(factory):  # type: ignore[no-untyped-def]
    r1, r2 = await factory.region(), await factory.region()
    a, a2, b = await factory.facility(r1, hours=False), await factory.facility(r1, hours=False), \
        await factory.facility(r2, hours=False)
    await _entries(factory.conn, LogRef.facility(a), 5)
    await _entries(factory.conn, LogRef.facility(a2), 2)
    await _entries(factory.conn, LogRef.facility(b), 3)
    await _entries(factory.conn, LogRef.region(r1), 1, action="policy.set")
    return r1, r2, a, a2, b


async def test_search_is_scoped_to_what_the_caller_may_see(factory) -> None:
    r1, r2, a, a2, b = await _world(factory)
    sec_a = await factory.as_role("security", facility_id=a)
    regional = await factory.as_role("regional", region_id=r1)
    officer = await factory.as_role("officer", facility_id=a)
    admin = await factory.as_role("admin")

    r = await sec_a.get("/api/v1/audit/entries")
    assert r.status == 200, await r.text()
    items = (await r.json())["items"]
    assert {i["log"] for i in items} == {f"facility-{a}"} and len(items) == 5
    assert [i["seq"] for i in items] == [5, 4, 3, 2, 1]

    r = await sec_a.get(f"/api/v1/audit/entries?facility_id={b}")
    assert r.status == 404, await r.text()
    r = await sec_a.get(f"/api/v1/audit/entries?log=region-{r1}")
    assert r.status == 404, await r.text()

    r = await regional.get("/api/v1/audit/entries?limit=500")
    logs = {i["log"] for i in (await r.json())["items"]}
    assert logs == {f"facility-{a}", f"facility-{a2}", f"region-{r1}"}, logs
    r = await regional.get(f"/api/v1/audit/entries?log=region-{r1}&action=policy.set")
    assert [i["action"] for i in (await r.json())["items"]] == ["policy.set"]

    r = await officer.get("/api/v1/audit/entries")
    assert r.status == 403, await r.text()
    r = await admin.get("/api/v1/audit/entries?limit=500")
    items = (await r.json())["items"]
    assert len([i for i in items if i["log"] != "national"]) == 11
    assert "national" in {i["log"] for i in items}  # token creation is recorded nationally
    r = await regional.get("/api/v1/audit/entries?log=national")
    assert r.status == 404, await r.text()


async def test_search_filters_and_keyset_pages(factory) -> None:
    _, _, a, _, _ = await _world(factory)
    sec_a = await factory.as_role("security", facility_id=a)
    seen: list[int] = []
    url = f"/api/v1/audit/entries?facility_id={a}&limit=2"
    while url:
        r = await sec_a.get(url)
        assert r.status == 200, await r.text()
        body = await r.json()
        seen += [i["seq"] for i in body["items"]]
        url = f"/api/v1/audit/entries?facility_id={a}&limit=2&cursor={body['next_cursor']}" \
            if body["next_cursor"] else ""
    assert seen == [5, 4, 3, 2, 1]
    r = await sec_a.get(f"/api/v1/audit/entries?facility_id={a}&subject_type=booking&subject_id=3&action=booking.")
    assert [i["subject"]["id"] for i in (await r.json())["items"]] == ["3"]
    r = await sec_a.get(f"/api/v1/audit/entries?facility_id={a}&since=2026-01-01T00:00:00")
    assert r.status == 422 and (await r.json())["code"] == "validation_failed", await r.text()
    r = await sec_a.get(f"/api/v1/audit/entries?facility_id={a}&cursor=not-a-cursor")
    assert r.status == 400, await r.text()


async def test_an_entry_comes_with_a_proof_the_client_can_check(factory) -> None:
    _, _, a, _, _ = await _world(factory)
    sec_a = await factory.as_role("security", facility_id=a)
    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/entries/3")
    assert r.status == 409 and (await r.json())["code"] == "audit_entry_not_checkpointed", await r.text()

    r = await sec_a.post("/api/v1/audit/checkpoints", json={"log": f"facility-{a}"})
    assert r.status == 200, await r.text()
    made = (await r.json())["made"]
    assert [(c["log"], c["size"]) for c in made] == [(f"facility-{a}", 5)]
    r = await sec_a.get("/api/v1/audit/checkpoints/export")
    assert r.status == 200, await r.text()
    document = await r.json()
    public = bytes.fromhex(document["public_keys"][0]["public_key"])

    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/entries/3")
    assert r.status == 200, await r.text()
    body = await r.json()
    cp = body["checkpoint"]
    root = bytes.fromhex(cp["root_hash"])
    assert verify_signature(public, bytes.fromhex(cp["signature"]), cp["note"].encode())
    proof = [bytes.fromhex(p) for p in body["proof"]]
    leaf = bytes.fromhex(body["entry"]["leaf_hash"])
    assert verify_inclusion(leaf, body["leaf_index"], body["tree_size"], proof, root)
    assert not verify_inclusion(bytes(32), body["leaf_index"], body["tree_size"], proof, root)

    await _entries(factory.conn, LogRef.facility(a), 4)
    await sec_a.post("/api/v1/audit/checkpoints", json={})
    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/consistency?old_size=5&new_size=9")
    assert r.status == 200, await r.text()
    c = await r.json()
    assert verify_consistency(5, 9, bytes.fromhex(c["old"]["root_hash"]), bytes.fromhex(c["new"]["root_hash"]),
                              [bytes.fromhex(p) for p in c["proof"]])
    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/checkpoints")
    assert [c["size"] for c in (await r.json())["items"]] == [5, 9]
    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/consistency?old_size=5&new_size=7")
    assert r.status == 404, await r.text()
    r = await sec_a.get(f"/api/v1/audit/logs/facility-{a}/consistency?old_size=9&new_size=5")
    assert r.status == 422, await r.text()


async def test_verification_status_per_log(factory, app_conn) -> None:
    r1, _, a, a2, _ = await _world(factory)
    regional = await factory.as_role("regional", region_id=r1)
    r = await regional.get("/api/v1/audit/logs")
    assert r.status == 200, await r.text()
    rows = {x["log"]: x for x in await r.json()}
    assert set(rows) == {f"facility-{a}", f"facility-{a2}", f"region-{r1}"}
    assert rows[f"facility-{a}"]["verified_at"] is None and rows[f"facility-{a}"]["size"] == 5
    await verify_database(app_conn)
    r = await regional.get("/api/v1/audit/logs")
    rows = {x["log"]: x for x in await r.json()}
    assert rows[f"facility-{a}"]["verified_ok"] is True and rows[f"facility-{a}"]["verified_size"] == 5


async def test_a_refused_change_of_audit_data_is_itself_recorded(settings, database, owner_conn) -> None:
    from wartel.app import create_app

    app = create_app(settings, target=database, migrate=False)

    async def rogue(req: web.Request) -> web.Response:
        async with req.app[keys.POOL].acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM audit.entries")
        return web.Response(text="deleted")

    app.router.add_post("/rogue", rogue)
    async with owner_conn.transaction():
        await append(owner_conn, LogRef.national(), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/rogue")
        assert r.status == 403 and (await r.json())["code"] == "forbidden_change", await r.text()
    rows = await owner_conn.fetch("SELECT seq, action, payload FROM audit.entries ORDER BY seq")
    assert [(x["seq"], x["action"]) for x in rows] == [(1, "x"), (2, "audit.tamper_blocked")]
    assert rows[1]["payload"]["severity"] == "high" and rows[1]["payload"]["route"] == "/rogue"


async def test_the_scheduled_job_signs_each_log_that_grew(database, settings, app_conn) -> None:
    from wartel.db import create_pool
    from wartel.jobs import all_jobs, run_once

    job = next(j for j in all_jobs() if j.name == "audit_checkpoints")
    await _entries(app_conn, LogRef.facility(1), 3)
    pool = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        assert await run_once(pool, settings, job)
        await run_once(pool, settings, job)  # nothing new: no second checkpoint
        await _entries(app_conn, LogRef.facility(1), 1)
        await run_once(pool, settings, job)
    finally:
        await pool.close()
    sizes = [r["size"] for r in await app_conn.fetch("SELECT size FROM audit.checkpoints ORDER BY size")]
    assert sizes == [3, 4]


async def test_the_scheduled_verification_records_each_logs_outcome(database, settings, app_conn) -> None:
    from wartel.db import create_pool
    from wartel.jobs import all_jobs, run_once

    job = next(j for j in all_jobs() if j.name == "audit_verify")
    await _entries(app_conn, LogRef.facility(1), 3)
    pool = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        assert await run_once(pool, settings, job)
    finally:
        await pool.close()
    status = (await verification_status(app_conn, [LogRef.facility(1)]))[LogRef.facility(1)]
    assert status is not None and status.ok and status.size == 3


async def test_no_inclusion_proof_for_an_entry_edited_behind_a_lying_generation_function(factory, owner_conn) -> None:
    """Issue 14: the owner repoints the canonical column's function so the stored text stays the original,
    then edits the entry's actor. The API shows the forged actor, so it must not hand out a proof that
    verifies for it: the proof comes from texts derived from the columns, and the log reads as damaged."""
    _, _, a, _, _ = await _world(factory)
    admin = await factory.as_role("admin")
    r = await admin.post("/api/v1/audit/checkpoints", json={"log": f"facility-{a}"})
    assert r.status in (200, 201), await r.text()
    original = await owner_conn.fetchval("SELECT canonical FROM audit.entries WHERE log_name = $1 AND seq = 2",
                                         f"facility:{a}")
    quoted = await owner_conn.fetchval("SELECT quote_literal($1::text)", original)
    await owner_conn.execute(f"""
        CREATE OR REPLACE FUNCTION audit.canonical_text(
            log_name text, seq bigint, recorded_at timestamptz, actor_type text, actor_id text, actor_role text,
            action text, subject_type text, subject_id text, payload jsonb, request_id text
        ) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN
            IF seq = 2 AND log_name = 'facility:{int(a)}' THEN RETURN {quoted}; END IF;
            RETURN audit.canonical_entry(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action,
                                         subject_type, subject_id, payload, request_id);
        END $$""")
    async with owner_conn.transaction():
        await owner_conn.execute("SET LOCAL session_replication_role = replica")
        await owner_conn.execute("UPDATE audit.entries SET actor_id = '99' WHERE log_name = $1 AND seq = 2",
                                 f"facility:{a}")
    # As a service process that has not cached this log's tree yet (a restart) would be asked.
    from audit.checkpoints import _CACHES

    _CACHES.clear()
    r = await admin.get(f"/api/v1/audit/logs/facility-{a}/entries/2")
    assert r.status == 409, await r.text()
    assert (await r.json())["code"] == "audit_log_damaged"
