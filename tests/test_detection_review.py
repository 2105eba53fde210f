"""The review queue over HTTP: ranking, evidence, transitions, watchlisting on confirm, scoping, links."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from audit.detection.catalogue import BY_ID
from audit.detection.engine import run_rule
from audit.detection.watchlist import is_blocked
from tests.schedules_support import slot_start

NOW = datetime.now(UTC)
RING = "+6287755500011"


async def _call(
    conn: asyncpg.Connection, facility_id: int, booth_id: int, inmate_id: int, number: str, start: datetime
) -> int:
    return await conn.fetchval(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
        " VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '5 minutes', 'completed')"
        " RETURNING call_id",
        facility_id,
        booth_id,
        inmate_id,
        number,
        start,
    )


async def _world(factory, owner_conn):  # type: ignore[no-untyped-def]
    """A region with three facilities; one inmate in each calls RING; one also calls a legal aid office."""
    region = await factory.region()
    facilities, inmates = [], []
    for _ in range(3):
        fid = await factory.facility(region)
        booth = await factory.booth(fid)
        inmate = await factory.inmate(fid)
        await _call(owner_conn, fid, booth, inmate, RING, NOW - timedelta(days=2))
        facilities.append(fid)
        inmates.append(inmate)
    await factory.contact(inmates[0], "+62215550177", relation="legal_counsel")
    await _call(
        owner_conn,
        facilities[0],
        await factory.booth(facilities[0]),
        inmates[0],
        "+62215550177",
        NOW - timedelta(days=1),
    )
    await run_rule(owner_conn, BY_ID["shared_number"], since=NOW - timedelta(days=30), until=NOW)
    flag_id = await owner_conn.fetchval("SELECT id FROM detection_flags WHERE subject_key = $1", RING)
    return region, facilities, inmates, flag_id


async def test_review_confirm_puts_the_number_on_the_watchlist_and_is_audited(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    region, facilities, inmates, flag_id = await _world(factory, owner_conn)
    sec = await factory.as_role("security", region_id=region)

    r = await sec.get(f"/api/v1/flags/queue?region_id={region}")
    assert r.status == 200, await r.text()
    (item,) = await r.json()
    assert item["subject_key"] == RING and item["score"] == 5 and item["rules"] == ["shared_number"]

    r = await sec.get(f"/api/v1/flags/{flag_id}")
    flag = await r.json()
    assert r.status == 200 and flag["evidence"]["distinct_inmates"] == 3 and flag["history"] == []
    assert flag["title"] == "Nomor dihubungi banyak WBP"

    r = await sec.post(f"/api/v1/flags/{flag_id}/acknowledge", json={})
    assert r.status == 200 and (await r.json())["status"] == "acknowledged", await r.text()
    r = await sec.post(f"/api/v1/flags/{flag_id}/dismiss", json={})
    assert r.status == 422 and (await r.json())["field"] == "reason", await r.text()
    r = await sec.post(f"/api/v1/flags/{flag_id}/notes", json={"note": "keluarga menyangkal kenal"})
    assert r.status == 201, await r.text()

    # One inmate has a call to the number booked; the block that comes with the confirmation cancels it.
    contact = await factory.contact(inmates[1], RING)
    booked = await (await factory.as_role("officer", facility_id=facilities[1])).post(
        "/api/v1/bookings",
        json={
            "facility_id": facilities[1],
            "booth_id": await factory.booth(facilities[1]),
            "inmate_id": inmates[1],
            "contact_id": contact,
            "starts_at": slot_start("Asia/Jakarta").isoformat(),
        },
    )
    assert booked.status == 201, await booked.text()

    r = await sec.post(
        f"/api/v1/flags/{flag_id}/confirm",
        json={"reason": "jaringan penipuan", "watchlist": {"mode": "blocked", "scope": "region"}},
    )
    body = await r.json()
    assert r.status == 200 and body["status"] == "confirmed" and body["watchlist_entry_id"], body
    assert [c["booking_id"] for c in body["cancelled_bookings"]] == [(await booked.json())["booking_id"]]
    assert [h["kind"] for h in body["history"]] == ["acknowledged", "note", "confirmed"]
    assert await is_blocked(owner_conn, RING, facilities[1])

    r = await sec.post(f"/api/v1/flags/{flag_id}/confirm", json={})
    assert r.status == 409 and (await r.json())["code"] == "flag_transition_invalid"

    actions = await owner_conn.fetch(
        "SELECT e.action, e.payload::text AS payload FROM audit.entries e JOIN audit.logs l USING (log_id)"
        " WHERE l.scope = 'region' AND l.scope_id = $1 AND e.action NOT LIKE 'access.%' ORDER BY e.seq",
        region,
    )
    assert [a["action"] for a in actions] == [
        "detection.flag_acknowledged",
        "detection.flag_noted",
        "watchlist.entry_added",
        "detection.flag_confirmed",
    ]
    assert all(RING[1:] not in a["payload"] for a in actions), "a number went into the audit log in clear"

    # The blocked number can no longer be registered for anyone in the region.
    officer = await factory.as_role("officer", facility_id=facilities[2])
    r = await officer.post(
        f"/api/v1/inmates/{inmates[2]}/contacts",
        json={"phone": "0877-5550-0011", "name": "X", "relation": "relative"},
    )
    assert r.status == 422, await r.text()
    problem = await r.json()
    assert problem["code"] == "number_blocked" and problem["field"] == "phone"

    r = await sec.get(f"/api/v1/flags/precision?region_id={region}")
    shared = next(p for p in await r.json() if p["rule_id"] == "shared_number")
    assert shared["confirmed"] == 1 and shared["reviewed"] == 1 and shared["precision"] == 1.0


async def test_two_reviewers_at_once_one_decision_wins(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    region, _, _, flag_id = await _world(factory, owner_conn)
    a = await factory.as_role("security", region_id=region)
    b = await factory.as_role("regional", region_id=region)
    r1, r2 = await asyncio.gather(
        a.post(f"/api/v1/flags/{flag_id}/confirm", json={}),
        b.post(f"/api/v1/flags/{flag_id}/dismiss", json={"reason": "keluarga"}),
    )
    assert sorted([r1.status, r2.status]) == [200, 409], (await r1.text(), await r2.text())
    assert (
        await owner_conn.fetchval("SELECT count(*) FROM detection_flag_events WHERE flag_id = $1", flag_id)
        == 1
    )


async def test_officers_never_see_flags_and_other_facilities_see_only_their_own(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    region, facilities, inmates, flag_id = await _world(factory, owner_conn)
    officer = await factory.as_role("officer", facility_id=facilities[0])
    assert (await officer.get("/api/v1/flags")).status == 403
    elsewhere = await factory.facility(region)
    outsider = await factory.as_role("security", facility_id=elsewhere)
    assert (await outsider.get(f"/api/v1/flags/{flag_id}")).status == 404
    r = await outsider.get("/api/v1/flags")
    assert (await r.json())["items"] == []
    insider = await factory.as_role("security", facility_id=facilities[0])
    r = await insider.get(f"/api/v1/flags/{flag_id}")
    assert r.status == 200, await r.text()
    other_region = await factory.as_role("security", region_id=await factory.region())
    assert (await other_region.get(f"/api/v1/flags/{flag_id}")).status == 404


async def test_link_view_spans_facilities_redacts_strangers_and_hides_legal_counsel(
    factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    region, facilities, inmates, _ = await _world(factory, owner_conn)
    regional = await factory.as_role("security", region_id=region)
    r = await regional.post("/api/v1/links/number", json={"number": "0877-5550-0011"})
    graph = await r.json()
    assert r.status == 200, graph
    people = [n for n in graph["nodes"] if n["type"] == "inmate"]
    assert sorted(n["inmate_id"] for n in people) == sorted(inmates)
    assert {e["kind"] for e in graph["edges"]} == {"called"} and graph["facility_ids"] == sorted(facilities)

    local = await factory.as_role("security", facility_id=facilities[0])
    graph = await (await local.post("/api/v1/links/number", json={"number": RING})).json()
    people = [n for n in graph["nodes"] if n["type"] == "inmate"]
    assert sum(1 for n in people if n.get("redacted")) == 2 and all(
        "label" not in n for n in people if n.get("redacted")
    )

    graph = await (await regional.post("/api/v1/links/number", json={"number": "+62215550177"})).json()
    assert graph["legal_counsel"] is True and graph["edges"] == [] and len(graph["nodes"]) == 1
    graph = await (await regional.get(f"/api/v1/links/inmates/{inmates[0]}")).json()
    assert {n["label"] for n in graph["nodes"] if n["type"] == "number"} == {RING}
    assert next(n for n in graph["nodes"] if n["type"] == "number")["shared"] is True


async def test_rule_parameters_are_set_per_region_by_the_regional_office(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    region = await factory.region()
    regional = await factory.as_role("regional", region_id=region)
    r = await regional.put(
        "/api/v1/detection/rules/shared_number/params",
        json={"region_id": region, "params": {"min_inmates": 5, "window_days": 14}},
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["params"]["min_inmates"] == 5
    r = await regional.put(
        "/api/v1/detection/rules/shared_number/params",
        json={"region_id": region, "params": {"min_inmatez": 5}},
    )
    assert r.status == 422 and (await r.json())["field"] == "params.min_inmatez"
    r = await regional.put(
        "/api/v1/detection/rules/shared_number/params",
        json={"region_id": region, "params": {"min_inmates": "lima"}},
    )
    assert r.status == 422 and (await r.json())["field"] == "params.min_inmates"
    r = await regional.get(f"/api/v1/detection/rules?region_id={region}")
    rule = next(x for x in await r.json() if x["id"] == "shared_number")
    assert rule["params"]["min_inmates"] == 5 and rule["defaults"]["min_inmates"] == 3
    r = await regional.get("/api/v1/detection/rules", headers={"Accept-Language": "en"})
    assert (
        next(x for x in await r.json() if x["id"] == "shared_number")["title"]
        == "Number called by several inmates"
    )
    assert (
        await regional.put(
            "/api/v1/detection/rules/no_such_rule/params", json={"region_id": region, "params": {}}
        )
    ).status == 404


async def test_queue_ranks_variety_over_repetition_and_ignores_dismissed(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    region = await factory.region()
    fid = await factory.facility(region)

    async def flag(rule_id: str, key: str, period_days: int, status: str = "open") -> None:
        rule = BY_ID[rule_id]
        await owner_conn.execute(
            """INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,
                                            facility_ids, severity, weight, evidence, status, last_event_at,
                                            reviewed_by, reviewed_at, review_reason)
               VALUES ($1, 1, $2, 'inmate', $3, now() - make_interval(days => $4), ARRAY[$5::bigint], $6, $7, '{}',
                       $8, now() - make_interval(days => $4), CASE WHEN $8 = 'dismissed' THEN $9::bigint END,
                       CASE WHEN $8 = 'dismissed' THEN now() END, CASE WHEN $8 = 'dismissed' THEN 'salah' END)""",
            rule_id,
            region,
            key,
            period_days,
            fid,
            rule.severity,
            rule.weight,
            status,
            reviewer,
        )

    reviewer = await factory.user("security", region_id=region)
    for d in (1, 8, 15):
        await flag("volume_change", "101", d)  # one rule, three weeks: counts once (2)
    await flag("volume_change", "102", 1)
    await flag("new_number_burst", "102", 2)  # two rules: 2 + 4
    await flag("audit_tamper", "103", 1, status="dismissed")
    await flag("contact_churn", "103", 1)  # 10 dismissed does not count: 2
    sec = await factory.login(reviewer)
    r = await sec.get(f"/api/v1/flags/queue?facility_id={fid}")
    ranked = [(i["subject_key"], i["score"]) for i in await r.json()]
    assert ranked[0] == ("102", 6.0) and sorted(ranked[1:]) == [("101", 2.0), ("103", 2.0)], ranked


async def test_a_rule_reviewers_keep_dismissing_sinks_in_the_queue(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """The queue weighs each rule by its measured precision in the region: (confirmed + 1) / (reviewed + 1)."""
    region = await factory.region()
    fid = await factory.facility(region)
    reviewer = await factory.user("security", region_id=region)

    async def flag(rule_id: str, key: str, status: str = "open") -> None:
        rule = BY_ID[rule_id]
        await owner_conn.execute(
            """INSERT INTO detection_flags (rule_id, rule_version, region_id, subject_type, subject_key, period_start,
                                            facility_ids, severity, weight, evidence, status, last_event_at,
                                            reviewed_by, reviewed_at, review_reason)
               VALUES ($1, 1, $2, 'inmate', $3, now() - interval '1 day', ARRAY[$4::bigint], $5, $6, '{}', $7,
                       now() - interval '1 day', CASE WHEN $7 <> 'open' THEN $8::bigint END,
                       CASE WHEN $7 <> 'open' THEN now() END, CASE WHEN $7 <> 'open' THEN 'ditinjau' END)""",
            rule_id,
            region,
            key,
            fid,
            rule.severity,
            rule.weight,
            status,
            reviewer,
        )

    for k in range(3):
        await flag("contact_churn", f"90{k}", "dismissed")  # churn: 0 of 3 confirmed
        await flag("repeated_cutoffs", f"80{k}", "confirmed")  # cut-offs: 3 of 3 confirmed
    await flag("contact_churn", "201")
    await flag("repeated_cutoffs", "202")
    sec = await factory.login(reviewer)
    r = await sec.get(f"/api/v1/flags/queue?region_id={region}")
    assert r.status == 200, await r.text()
    ranked = [(i["subject_key"], i["score"]) for i in await r.json() if i["pending"]]
    assert ranked == [("202", 2.0), ("201", 0.5)], ranked
