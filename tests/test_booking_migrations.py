"""Migrations 0024-0026 applied to a database that already has every later one (as on a running service)."""

from __future__ import annotations

from tests.empty_database import empty_database
from tests.factory import Factory
from wartel import migrations

MINE = range(24, 30)


async def test_block_cancellations_keep_their_cause_when_0026_comes_after_the_later_migrations(
    pg_server: str,
) -> None:
    async with empty_database(pg_server, "wartel_cancel_cause_check") as conn:
        every = migrations.load_migrations()
        await migrations.migrate(conn, migrations=[m for m in every if m.version not in MINE])
        factory = Factory(conn)
        fid = await factory.facility()
        booth = await factory.booth(fid)
        inmate = await factory.inmate(fid)
        contact = await factory.contact(inmate)
        user = await factory._system_user()
        ids = []
        for day, note in ((1, "number blocked"), (2, "kiosk closed"), (3, None)):
            ids.append(
                await conn.fetchval(
                    """INSERT INTO bookings (facility_id, booth_id, inmate_id, contact_id, slot, period_start, max_minutes,
                       booked_by, status, cancel_reason, cancel_note, cancelled_at)
                   VALUES ($1, $2, $3, $4, tstzrange(now() + make_interval(days => $5),
                                                     now() + make_interval(days => $5, mins => 15)),
                           current_date, 15, $6, 'cancelled', 'facility', $7, now())
                   RETURNING booking_id""",
                    fid,
                    booth,
                    inmate,
                    contact,
                    day,
                    user,
                    note,
                )
            )

        applied = await migrations.migrate(conn)

        assert [m.version for m in applied] == [m.version for m in every if m.version in MINE]
        causes = dict(await conn.fetch("SELECT booking_id, cancel_cause FROM bookings ORDER BY booking_id"))
        assert causes == {ids[0]: "number_blocked", ids[1]: None, ids[2]: None}
        # The rule functions work on the later tables (the watchlist is 0030's).
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM booking_context($1, $2, $3, $4, now() + interval '1 day', NULL)",
                fid,
                booth,
                inmate,
                contact,
            )
            == 1
        )
