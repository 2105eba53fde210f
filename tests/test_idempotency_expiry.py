"""Idempotency keys answer retries for a day (WARTEL_IDEMPOTENCY_KEY_TTL_H), then the expiry job deletes them."""

from __future__ import annotations

from datetime import timedelta

from tests.schedules_support import booking_body, make_site, slot_start
from wartel.http.idempotency import expire_keys
from wartel.jobs import all_jobs


async def test_old_keys_are_deleted_fresh_ones_still_replay_and_the_purge_is_audited(factory, owner_conn, app_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    old_body = booking_body(site, slot_start(site.tz))
    fresh_body = booking_body(site, slot_start(site.tz) + timedelta(hours=1))
    r = await site.officer.post("/api/v1/bookings", json=old_body, headers={"Idempotency-Key": "kemarin"})
    assert r.status == 201, await r.text()
    r = await site.officer.post("/api/v1/bookings", json=fresh_body, headers={"Idempotency-Key": "barusan"})
    assert r.status == 201, await r.text()
    await owner_conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'kemarin'")

    assert await expire_keys(app_conn, ttl_h=24) == 1
    assert await owner_conn.fetchval("SELECT array_agg(key) FROM idempotency_keys") == ["barusan"]
    assert await expire_keys(app_conn, ttl_h=24) == 0  # nothing left to expire, nothing recorded

    again = await site.officer.post("/api/v1/bookings", json=fresh_body, headers={"Idempotency-Key": "barusan"})
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true", await again.text()
    # An expired key is a new request: the slot it booked a day ago is still its own, so nothing books twice.
    late = await site.officer.post("/api/v1/bookings", json=old_body, headers={"Idempotency-Key": "kemarin"})
    assert late.status == 409 and (await late.json())["code"] in ("slot_taken", "inmate_busy"), await late.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM bookings") == 2

    purges = await owner_conn.fetch("SELECT payload FROM audit.entries WHERE action = 'idempotency.keys_expired'")
    assert [p["payload"] for p in purges] == [{"deleted": 1, "ttl_hours": 24}]


def test_the_expiry_runs_as_a_scheduled_job() -> None:
    assert "idempotency_expiry" in {job.name for job in all_jobs()}
