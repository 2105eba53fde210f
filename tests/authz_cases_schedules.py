"""Authorisation cases for schedules: availability, bookings, the call lifecycle, call rights, policies,
sanctions, booth devices, the live board and the kiosk endpoints.

Officers, security staff and admins book and supervise calls; the regional office reads and sets policy;
security staff and admins impose sanctions. Kiosk endpoints take device tokens only: every user gets 401.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.authz import EVERYONE, SAME, Case, World

BOOKERS = frozenset({"officer", "security", "admin"})
IMPOSERS = frozenset({"security", "admin"})
POLICY = frozenset({"regional", "admin"})
NOBODY: frozenset[str] = frozenset()
FACILITY = "/api/v1/facilities/{facility_id}"
BOOKING = "/api/v1/bookings/{booking_id}"
_FRESH_PERSON = ("bk_booth", "bk_inmate", "bk_contact")

CASES = [
    Case("GET", FACILITY + "/availability?day={monday}", EVERYONE),
    Case("POST", "/api/v1/bookings", BOOKERS, fresh=_FRESH_PERSON, body={
        "facility_id": "{facility_id}", "booth_id": "{bk_booth}", "inmate_id": "{bk_inmate}",
        "contact_id": "{bk_contact}", "starts_at": "{monday_slot}"}),
    Case("GET", "/api/v1/bookings?facility_id={facility_id}", EVERYONE, foreign=SAME),
    Case("GET", BOOKING, EVERYONE, fresh=("booking_id",)),
    Case("POST", BOOKING + "/cancel", BOOKERS, body={"reason": "facility"}, fresh=("booking_id",)),
    Case("POST", BOOKING + "/reschedule", BOOKERS, fresh=("booking_id", "bk_booth"),
         body={"starts_at": "{monday_slot}", "booth_id": "{bk_booth}", "reason": "facility"}),
    Case("POST", BOOKING + "/check-in", BOOKERS, body={}, fresh=("booking_id",)),
    # The first fresh placeholder says which state the fresh booking must be in.
    Case("POST", BOOKING + "/start-call", BOOKERS, body={},
         fresh=("want_checked_in", "booking_id")),
    Case("POST", BOOKING + "/end-call", BOOKERS, body={"outcome": "completed"},
         fresh=("want_in_call", "booking_id")),
    Case("GET", "/api/v1/inmates/{inmate_id}/call-rights", EVERYONE),
    Case("GET", "/api/v1/inmates/{inmate_id}/sanctions", EVERYONE),
    Case("POST", "/api/v1/sanctions", IMPOSERS, body={
        "inmate_id": "{inmate_id}", "kind": "reduce", "starts_at": "{now}", "ends_at": "{tomorrow}",
        "reason": "uji", "max_minutes": 10}),
    Case("POST", "/api/v1/sanctions/{sanction_id}/lift", IMPOSERS, body={"reason": "banding"},
         fresh=("sanction_id",)),
    Case("GET", "/api/v1/call-policies", EVERYONE, foreign=SAME),
    Case("POST", "/api/v1/call-policies", POLICY, body={
        "scope": "facility", "facility_id": "{facility_id}", "allowance": "legal", "period": "month",
        "calls_allowed": 4, "max_minutes": 30, "min_lead_minutes": 60, "max_days_ahead": 14,
        "cancel_cutoff_minutes": 60, "no_show_consumes": False, "booth_kinds": ["phone"]}),
    Case("GET", "/api/v1/call-policies/{policy_id}/versions", EVERYONE),
    Case("GET", FACILITY + "/call-policies/effective", EVERYONE),
    Case("GET", FACILITY + "/booths/{booth_id}/devices", EVERYONE),
    Case("POST", FACILITY + "/booths/{booth_id}/devices", BOOKERS, body={"name": "Terminal {unique}"}),
    Case("DELETE", FACILITY + "/booths/{booth_id}/devices/{device_id}", BOOKERS, fresh=("device_id",)),
    Case("GET", FACILITY + "/board", EVERYONE),
    Case("GET", FACILITY + "/board/stream?once=true", EVERYONE),
    Case("POST", "/api/v1/kiosk/dialled", NOBODY, body={"dialled_number": "+6281200000000"}, forbidden=401),
    Case("POST", "/api/v1/kiosk/connected", NOBODY, body={}, forbidden=401),
    Case("POST", "/api/v1/kiosk/disconnected", NOBODY, body={}, forbidden=401),
]


def _next_monday(tz: str) -> datetime:
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    return datetime.combine(monday, time(8, 0), tzinfo=zone)


async def extend_world(world: World) -> None:
    conn = world.factory.conn
    now = datetime.now(UTC)
    for scope in ("own", "foreign"):
        s = world.scopes[scope]
        tz = await conn.fetchval("SELECT time_zone FROM facilities WHERE id = $1", s["facility_id"])
        monday = _next_monday(tz)
        s.update({"monday": monday.date().isoformat(), "monday_slot": monday.isoformat(),
                  "now": now.isoformat(), "tomorrow": (now + timedelta(days=1)).isoformat()})
        s["policy_id"] = await conn.fetchval(
            "WITH p AS (INSERT INTO call_policies (scope, scope_facility_id, allowance) VALUES ('facility', $1, 'family')"
            " RETURNING policy_id) INSERT INTO call_policy_versions (policy_id, version, period, calls_allowed,"
            " max_minutes, min_lead_minutes, max_days_ahead, cancel_cutoff_minutes, no_show_consumes, booth_kinds)"
            " SELECT policy_id, 1, 'week', 50, 15, 60, 14, 120, true, ARRAY['phone','video'] FROM p"
            " RETURNING policy_id", s["facility_id"])


async def _booth(world: World, scope: str, principal: str) -> int:
    return await world.factory.booth(world.scopes[scope]["facility_id"])


async def _inmate(world: World, scope: str, principal: str) -> int:
    inmate = await world.factory.inmate(world.scopes[scope]["facility_id"])
    world.scopes[scope]["_bk_inmate"] = inmate
    return inmate


async def _contact(world: World, scope: str, principal: str) -> int:
    return await world.factory.contact(world.scopes[scope]["_bk_inmate"])


async def _booking(world: World, scope: str, status: str = "booked") -> int:
    """A booking starting in ten minutes, written directly: the matrix tests who may act on it."""
    conn = world.factory.conn
    s = world.scopes[scope]
    booth = await world.factory.booth(s["facility_id"])
    inmate = await world.factory.inmate(s["facility_id"])
    contact = await world.factory.contact(inmate)
    officer = world.user_ids["officer"]
    booking_id = await conn.fetchval(
        """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, period_start, policy_id,
                                 policy_version, max_minutes, charged, booked_by, status, checked_in_by, checked_in_at)
           VALUES ($1, $2, $3, $4, tstzrange(now() + interval '10 minutes', now() + interval '25 minutes', '[)'),
                   current_date, $5, 1, 15, false, $6, $7,
                   CASE WHEN $7 <> 'booked' THEN $6::bigint END, CASE WHEN $7 <> 'booked' THEN now() END)
           RETURNING booking_id""", s["facility_id"], booth, inmate, contact, s["policy_id"], officer, status)
    if status == "in_call":
        await conn.execute(
            """INSERT INTO calls (facility_id, booking_id, booth_id, inmate_id, contact_id, started_at, supervised_by,
                                  limit_at) VALUES ($1, $2, $3, $4, $5, now(), $6, now() + interval '15 minutes')""",
            s["facility_id"], booking_id, booth, inmate, contact, officer)
    return booking_id


async def _fresh_booking(world: World, scope: str, principal: str) -> int:
    return await _booking(world, scope, world.scopes[scope].pop("_want", "booked"))


def _wanting(status: str):  # type: ignore[no-untyped-def]
    async def want(world: World, scope: str, principal: str) -> str:
        world.scopes[scope]["_want"] = status
        return status
    return want


async def _fresh_sanction(world: World, scope: str, principal: str) -> int:
    s = world.scopes[scope]
    return await world.factory.conn.fetchval(
        "INSERT INTO sanctions (inmate_id, imposed_at_facility_id, kind, during, reason, max_minutes, created_by)"
        " VALUES ($1, $2, 'reduce', tstzrange(now(), now() + interval '1 day'), 'uji', 10, $3) RETURNING sanction_id",
        s["inmate_id"], s["facility_id"], world.user_ids["admin"])


async def _fresh_device(world: World, scope: str, principal: str) -> Any:
    s = world.scopes[scope]
    return await world.factory.conn.fetchval(
        "INSERT INTO devices (facility_id, booth_id, name, token_hash) VALUES ($1, $2, 'uji', $3) RETURNING device_id",
        s["facility_id"], s["booth_id"], f"hash-{scope}-{principal}-{datetime.now(UTC).timestamp()}".encode())


FRESH = {"bk_booth": _booth, "bk_inmate": _inmate, "bk_contact": _contact, "booking_id": _fresh_booking,
         "want_checked_in": _wanting("checked_in"), "want_in_call": _wanting("in_call"),
         "sanction_id": _fresh_sanction, "device_id": _fresh_device}
