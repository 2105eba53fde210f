"""Erasing a number keeps the audit log provable and makes its hash unmatchable (issue 21, item 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.test_audit_cli import _wartel
from wartel import keys
from wartel.privacy.numbers import number_ref, ref_with_key
from wartel.registry.phones import phone_ref

NUMBER = "+6281377712345"


async def test_erasing_a_number_leaves_no_trace_and_the_log_still_verifies(  # type: ignore[no-untyped-def]
    client, factory, owner_conn, database, tmp_path: Path
) -> None:
    rid = await factory.region()
    fid = await factory.facility(rid, code="LP-HAPUS")
    inmate = await factory.inmate(fid)
    officer = await factory.as_role("officer", facility_id=fid)
    kanwil = await factory.as_role("regional", region_id=rid)
    secret = client.server.app[keys.SECRET_KEY]

    r = await officer.post(
        f"/api/v1/inmates/{inmate}/contacts",
        json={"phone": "0813-7771-2345", "name": "Siti Aminah", "relation": "spouse"},
    )
    assert r.status == 201, await r.text()
    contact_id = (await r.json())["id"]
    booth = await factory.booth(fid)
    await owner_conn.execute(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, contact_id, dialled_e164, started_at, ended_at,"
        " outcome) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz + interval '10 minutes', 'completed')",
        fid,
        booth,
        inmate,
        contact_id,
        NUMBER,
        datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
    )
    r = await kanwil.post("/api/v1/links/number", json={"number": NUMBER, "reason": "pemeriksaan"})
    assert r.status == 200, await r.text()

    # Before: whoever holds the number (and the service) can find it in the log.
    stored = await owner_conn.fetchval(
        "SELECT payload->>'phone_ref' FROM audit.entries WHERE action = 'contact.registered' AND subject_id = $1",
        str(contact_id),
    )
    assert stored == await number_ref(owner_conn, secret, NUMBER, create=False)
    looked = await owner_conn.fetchval("SELECT subject_id FROM audit.entries WHERE action = 'access.links'")
    assert looked == stored
    assert NUMBER not in json.dumps(
        [dict(r) for r in await owner_conn.fetch("SELECT subject_id, payload::text FROM audit.entries")]
    )

    # A checkpoint taken before the erasure, held outside (as a Kanwil keeps one).
    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 0, (out, err)
    code, out, err = await _wartel(
        database, tmp_path, "audit", "export", "--checkpoints-only", "-o", str(tmp_path / "before.json")
    )
    assert code == 0, err

    r = await kanwil.post(
        "/api/v1/privacy/erasures", json={"number": NUMBER, "reason": "permintaan subjek data"}
    )
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["contact_ids"] == [contact_id] and body["calls"] == 1 and body["key_destroyed"] is True

    # After: no trace in the registry; bookings and calls keep their ids.
    assert (
        await owner_conn.fetchval(
            "SELECT count(*) FROM contacts WHERE phone_e164 = $1 OR name = 'Siti Aminah'", NUMBER
        )
        == 0
    )
    assert await owner_conn.fetchval("SELECT count(*) FROM calls WHERE dialled_e164 = $1", NUMBER) == 0
    erased = await owner_conn.fetchrow("SELECT * FROM contacts WHERE id = $1", contact_id)
    assert erased["erased_at"] is not None and erased["status"] == "revoked"
    assert (
        await owner_conn.fetchval("SELECT contact_id FROM calls WHERE inmate_id = $1", inmate) == contact_id
    )
    # The log's hash can no longer be matched from the number: its key is gone, no key left matches it, and
    # the service secret alone never produced it.
    assert await number_ref(owner_conn, secret, NUMBER, create=False) is None
    keys_left = [bytes(k) for k in await owner_conn.fetchval("SELECT array_agg(key) FROM number_keys") or []]
    assert all(ref_with_key(k, NUMBER) != stored for k in keys_left)
    assert phone_ref(secret, NUMBER) != stored
    # Asked again, the number is unknown; registering it again gives a new, unlinked reference.
    r = await kanwil.post("/api/v1/access/number", json={"number": NUMBER})
    assert r.status == 200 and await r.json() == [], await r.text()
    r = await kanwil.post("/api/v1/privacy/erasures", json={"number": NUMBER, "reason": "lagi"})
    assert r.status == 404 and (await r.json())["code"] == "number_not_found", await r.text()
    assert (
        await owner_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action = 'privacy.number_erased'")
        == 1
    )

    # The log verifies, against the checkpoint taken before the erasure too.
    code, out, err = await _wartel(
        database, tmp_path, "audit", "verify", "--checkpoints", str(tmp_path / "before.json")
    )
    assert code == 0 and "ok      LP-HAPUS" in out, (out, err)

    r = await officer.get(f"/api/v1/inmates/{inmate}/contacts")
    assert r.status == 200, await r.text()
    assert [(c["phone_e164"], c["name"]) for c in await r.json()] == [(None, None)]


async def test_a_number_with_an_upcoming_booking_or_on_the_watchlist_is_not_erased(
    factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    from tests.schedules_support import booking_body, make_site, slot_start

    site = await make_site(factory)
    number = await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id)
    admin = await factory.as_role("admin")
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))
    assert r.status == 201, await r.text()
    booking_id = (await r.json())["booking_id"]
    r = await admin.post("/api/v1/privacy/erasures", json={"number": number, "reason": "permintaan"})
    assert r.status == 409 and (await r.json())["code"] == "number_has_live_bookings", await r.text()
    r = await site.officer.post(f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "family"})
    assert r.status == 200, await r.text()
    await owner_conn.execute(
        "INSERT INTO watchlist (scope, scope_id, pattern_kind, pattern, mode, reason)"
        " VALUES ('national', 0, 'number', $1, 'watched', 'penyelidikan')",
        number,
    )
    r = await admin.post("/api/v1/privacy/erasures", json={"number": number, "reason": "permintaan"})
    assert r.status == 409 and (await r.json())["code"] == "number_on_watchlist", await r.text()
    assert (
        await owner_conn.fetchval("SELECT phone_e164 FROM contacts WHERE id = $1", site.contact_id) == number
    )
    # An officer may not erase at all; a regional office of another region does not see the number.
    r = await site.officer.post("/api/v1/privacy/erasures", json={"number": number, "reason": "x"})
    assert r.status == 403, await r.text()
    other = await factory.as_role("regional", region_id=await factory.region())
    r = await other.post("/api/v1/privacy/erasures", json={"number": number, "reason": "x"})
    assert r.status == 404, await r.text()
