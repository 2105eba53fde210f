"""Call rights policies (region, facility override, risk level, versions) and sanctions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from tests.schedules_support import booking_body, make_site, rights_at, slot_start

POLICY = {"period": "week", "calls_allowed": 3, "max_minutes": 10, "min_lead_minutes": 30, "max_days_ahead": 7,
          "cancel_cutoff_minutes": 60, "no_show_consumes": False, "booth_kinds": ["phone"]}


async def test_regional_office_sets_region_policy_facility_override_and_risk_level(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    regional = await factory.as_role("regional", region_id=site.region_id)
    r = await regional.post("/api/v1/call-policies", json={**POLICY, "scope": "region", "region_id": site.region_id})
    assert r.status == 201, await r.text()
    region_policy = await r.json()
    assert region_policy["version"] == 1 and region_policy["settings"]["max_minutes"] == 10
    r = await site.officer.get(f"/api/v1/facilities/{site.facility_id}/call-policies/effective")
    assert (await r.json())["policy_id"] == region_policy["policy_id"]

    r = await regional.post("/api/v1/call-policies", json={
        **POLICY, "calls_allowed": 1, "scope": "facility", "facility_id": site.facility_id, "risk_level": "high"})
    assert r.status == 201, await r.text()
    high = await r.json()
    eff = await (await site.officer.get(
        f"/api/v1/facilities/{site.facility_id}/call-policies/effective?risk_level=high")).json()
    assert eff["policy_id"] == high["policy_id"]
    eff = await (await site.officer.get(
        f"/api/v1/facilities/{site.facility_id}/call-policies/effective?risk_level=low")).json()
    assert eff["policy_id"] == region_policy["policy_id"]

    # A change is a new version; the booking keeps the version it was made under.
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))
    assert r.status == 201, await r.text()
    booking = await r.json()
    assert (booking["policy_id"], booking["policy_version"], booking["max_minutes"]) == (
        region_policy["policy_id"], 1, 10)
    r = await regional.post("/api/v1/call-policies", json={**POLICY, "max_minutes": 5, "scope": "region",
                                                           "region_id": site.region_id})
    assert (await r.json())["version"] == 2
    r = await site.officer.get(f"/api/v1/bookings/{booking['booking_id']}")
    assert (await r.json())["policy_version"] == 1
    versions = await (await regional.get(f"/api/v1/call-policies/{region_policy['policy_id']}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [1, 2]
    assert await owner_conn.fetchval(
        "SELECT count(*) FROM audit.entries WHERE action = 'policy.version_added'") == 3


async def test_only_the_right_office_may_set_a_policy(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    r = await site.officer.post("/api/v1/call-policies", json={**POLICY, "scope": "facility",
                                                               "facility_id": site.facility_id})
    assert r.status == 403, await r.text()
    stranger = await factory.as_role("regional", region_id=await factory.region())
    r = await stranger.post("/api/v1/call-policies", json={**POLICY, "scope": "region", "region_id": site.region_id})
    assert r.status == 404, await r.text()
    r = await stranger.post("/api/v1/call-policies", json={**POLICY, "scope": "national"})
    assert r.status == 404, await r.text()
    r = await stranger.post("/api/v1/call-policies", json={**POLICY, "scope": "region"})
    assert r.status == 422 and (await r.json())["code"] == "policy_scope_mismatch", await r.text()
    r = await stranger.post("/api/v1/call-policies", json={**POLICY, "calls_allowed": -1, "scope": "national"})
    assert r.status == 422 and (await r.json())["field"] == "calls_allowed"


async def test_a_reducing_sanction_shortens_and_limits_calls_until_lifted(factory) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    security = await factory.as_role("security", facility_id=site.facility_id)
    now = datetime.now(UTC)
    r = await security.post("/api/v1/sanctions", json={
        "inmate_id": site.inmate_id, "kind": "reduce", "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=10)).isoformat(), "reason": "late return", "calls_allowed": 1,
        "max_minutes": 5})
    assert r.status == 201, await r.text()
    sanction = await r.json()
    r = await site.officer.post("/api/v1/bookings", json=booking_body(site, slot_start(site.tz)))
    assert r.status == 201 and (await r.json())["max_minutes"] == 5, await r.text()
    second = booking_body(site, slot_start(site.tz, at=time(10, 0)))
    r = await site.officer.post("/api/v1/bookings", json=second)
    assert r.status == 409 and (await r.json())["code"] == "quota_exhausted"
    # The rights of the booked day's period (two days ahead: next week's on a Saturday or Sunday).
    rights = await rights_at(site, slot_start(site.tz))
    family = rights["allowances"][0]
    assert (family["calls_allowed"], family["used"], family["remaining"]) == (1, 1, 0)
    assert rights["sanction_ids"] == [sanction["sanction_id"]]
    r = await site.officer.post(f"/api/v1/sanctions/{sanction['sanction_id']}/lift", json={"reason": "appeal"})
    assert r.status == 403
    r = await security.post(f"/api/v1/sanctions/{sanction['sanction_id']}/lift", json={"reason": "appeal upheld"})
    assert r.status == 200, await r.text()
    r = await site.officer.post("/api/v1/bookings", json=second)
    assert r.status == 201, await r.text()
    r = await security.post(f"/api/v1/sanctions/{sanction['sanction_id']}/lift", json={"reason": "again"})
    assert r.status == 409 and (await r.json())["code"] == "sanction_already_lifted"
    r = await security.post("/api/v1/sanctions", json={
        "inmate_id": site.inmate_id, "kind": "reduce", "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(days=1)).isoformat(), "reason": "x", "calls_allowed": 1})
    assert r.status == 422 and (await r.json())["code"] == "sanction_window_empty"
    listed = await (await security.get(f"/api/v1/inmates/{site.inmate_id}/sanctions")).json()
    assert [s["lift_reason"] for s in listed["items"]] == ["appeal upheld"]
