"""Retention erases what has been kept long enough, in small audited batches, per region (issue 21, item 1).

Every instant is chosen by the test (``now=``), and every date in the data is fixed: nothing depends on the
day the test runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from audit.verify import verify_database
from wartel import keys
from wartel.privacy.retention import apply_retention

JAN_2026 = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


async def test_retention_erases_expired_numbers_only_and_reports_them(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    secret = client.server.app[keys.SECRET_KEY]
    rid = await factory.region()
    fid = await factory.facility(rid)
    released = await factory.inmate(fid)
    active = await factory.inmate(fid)
    await owner_conn.execute(
        "UPDATE inmates SET status = 'released', released_on = $2 WHERE id = $1", released, date(2025, 6, 1)
    )
    family_of_released = await factory.contact(released, "+6281311110001")
    shared = await factory.contact(released, "+6281311110002")
    await factory.contact(active, "+6281311110002")  # the same number, still an active inmate's family
    pending = await factory.contact(active, "+6281311110003", verified=False)
    kept = await factory.contact(active, "+6281311110004")
    await owner_conn.execute("UPDATE contacts SET created_at = $1, updated_at = $1", JAN_2026)

    # 1 January 2027: the pending number is past 90 days; the release (June 2025) is not yet 2 years old.
    run = await apply_retention(owner_conn, secret, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert (run.erased, run.by_cause) == (1, {"unverified": 1})
    assert await owner_conn.fetchval("SELECT erased_at IS NOT NULL FROM contacts WHERE id = $1", pending)

    # A region may keep released families longer (the API sets it, audited in the region's log).
    kanwil = await factory.as_role("regional", region_id=rid)
    r = await kanwil.put(
        f"/api/v1/privacy/retention/{rid}", json={"released_family_years": 3, "unverified_contact_days": 90}
    )
    assert r.status == 200, await r.text()
    r = await kanwil.put(
        f"/api/v1/privacy/retention/{rid}", json={"released_family_years": 0, "unverified_contact_days": 90}
    )
    assert r.status == 422 and (await r.json())["field"] == "released_family_years", await r.text()
    run = await apply_retention(owner_conn, secret, now=datetime(2028, 1, 1, tzinfo=UTC))
    assert run.erased == 0

    # June 2028, three years after the release: the released inmate's own family number goes, in batches of
    # one; the number an active inmate still holds and the active inmate's own stay.
    now = datetime(2028, 6, 2, tzinfo=UTC)
    run = await apply_retention(owner_conn, secret, now=now, batch=1)
    assert (run.erased, run.by_cause) == (1, {"released_family": 1})
    assert (await apply_retention(owner_conn, secret, now=now, batch=1)).erased == 0
    erased = {r["id"] for r in await owner_conn.fetch("SELECT id FROM contacts WHERE erased_at IS NOT NULL")}
    assert erased == {pending, family_of_released}
    assert shared not in erased and kept not in erased

    # The report says what went, when and why, never the number; the audit log records each and verifies.
    r = await kanwil.get(f"/api/v1/privacy/erasures?region_id={rid}")
    assert r.status == 200, await r.text()
    report = await r.json()
    assert sorted(e["cause"] for e in report) == ["released_family", "unverified"]
    assert all(e["erased_by"] is None and e["contacts"] == 1 and e["facility_ids"] == [fid] for e in report)
    assert "+62813" not in await r.text()
    assert (
        await owner_conn.fetchval(
            "SELECT count(*) FROM audit.entries WHERE action = 'privacy.number_erased' AND actor_id = 'privacy_retention'"
        )
        == 2
    )
    results = await verify_database(owner_conn, store=False)
    assert results and all(x.ok for x in results), [(x.log_name, x.problem) for x in results if not x.ok]


async def test_the_scheduled_job_erases_as_the_service_role(database, settings, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    from wartel.db import create_pool
    from wartel.jobs import all_jobs, run_once

    inmate = await factory.inmate(await factory.facility())
    pending = await factory.contact(inmate, "+6281311119999", verified=False)
    # Years before any day this test can run on: expired whatever the clock says.
    await owner_conn.execute(
        "UPDATE contacts SET updated_at = $2 WHERE id = $1", pending, JAN_2026.replace(year=2020)
    )
    job = next(j for j in all_jobs() if j.name == "privacy_retention")
    pool = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        assert await run_once(pool, settings, job)
    finally:
        await pool.close()
    row = await owner_conn.fetchrow("SELECT phone_e164, erased_at FROM contacts WHERE id = $1", pending)
    assert row["phone_e164"] is None and row["erased_at"] is not None
    assert await owner_conn.fetchval("SELECT cause FROM privacy_erasures") == "unverified"
