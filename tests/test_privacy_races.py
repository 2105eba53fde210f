"""Erasure against booking, with real concurrent requests: a number is never booked once erased.

The erasure takes FOR UPDATE on the contact rows before it reads the bookings; a booking holds FOR KEY SHARE
on its contact before it reads the contact's status (sql/0025). Either the booking commits first and the
erasure refuses (409 number_has_live_bookings), or the erasure commits first and the booking finds the
contact revoked. Counted from the data afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

from tests.schedules_support import booking_body, make_site, slot_start

ROUNDS = 12


async def test_a_number_is_either_booked_or_erased_never_both(factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    site = await make_site(factory)
    admin = await factory.as_role("admin")
    first = slot_start(site.tz, days_ahead=2, at=time(9, 0))
    outcomes: list[tuple[int, int]] = []
    for i in range(ROUNDS):
        inmate = await factory.inmate(site.facility_id)
        number = f"+62813888{i:05d}"
        contact = await factory.contact(inmate, number)
        body = booking_body(site, first + timedelta(minutes=15 * i), inmate_id=inmate, contact_id=contact)
        booked, erased = await asyncio.gather(
            site.officer.post("/api/v1/bookings", json=body),
            admin.post("/api/v1/privacy/erasures", json={"number": number, "reason": "permintaan"}),
        )
        outcomes.append((booked.status, erased.status))
        assert booked.status in (201, 409, 422), await booked.text()
        assert erased.status in (200, 409), await erased.text()
    # From the data: no live booking to an erased contact, and every round went exactly one way.
    assert (
        await owner_conn.fetchval(
            "SELECT count(*) FROM bookings b JOIN contacts k ON k.id = b.contact_id"
            " WHERE k.erased_at IS NOT NULL AND b.status IN ('booked', 'checked_in', 'in_call')"
        )
        == 0
    )
    live = await owner_conn.fetchval(
        "SELECT count(*) FROM bookings b JOIN contacts k ON k.id = b.contact_id WHERE k.phone_e164 LIKE '+62813888%'"
        " AND b.status = 'booked'"
    )
    erased_count = await owner_conn.fetchval("SELECT count(*) FROM contacts WHERE erased_at IS NOT NULL")
    assert live + erased_count == ROUNDS, outcomes
    assert sum(1 for b, _ in outcomes if b == 201) == live, outcomes
