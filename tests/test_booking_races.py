"""Every booking rule holds under any interleaving with a registry change (docs/architecture.md, lock order).

Each test races many bookings (each on its own connection, in its own transaction, as the service runs them)
against one change that makes some of them impossible, over many rounds and with the change started early,
late and in between. Afterwards it counts, from the data only, the active bookings that break the rule:
there must be none. Before the lock order, each of these found such bookings within a few rounds.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from audit import Actor
from schedules.booking import BookingRequest, book_call, cancel_bookings_to_blocked_number
from schedules.errors import ScheduleError
from tests.factory import Factory
from wartel.auth.principal import Principal
from wartel.db import DatabaseTarget, connect


def _a_monday_next_year() -> date:
    day = datetime.now(UTC).date() + timedelta(days=365)
    return day - timedelta(days=day.weekday())


# The instant every booking is judged at: 08:00 in Jakarta on a Monday a year ahead, so every outcome is the
# same whatever day the test runs. (Ahead of the wall clock because the registry's cancellations leave alone
# the bookings whose slot has passed by the wall clock.)
BASE = _a_monday_next_year()
NOW = datetime.combine(BASE, time(1, 0), tzinfo=UTC)
ROUNDS = 12
BOOKINGS_PER_ROUND = 6
ACTOR = Actor.system("race-test")
Job = Callable[[asyncpg.Connection], Awaitable[Any]]


def local(day_offset: int, at: time) -> datetime:
    """A Jakarta wall-clock time ``day_offset`` days after NOW's local day, as UTC."""
    day = BASE + timedelta(days=day_offset)
    return (datetime.combine(day, at) - timedelta(hours=7)).replace(tzinfo=UTC)


@dataclass
class Race:
    """One facility with booths, inmates and contacts, and the connections the racers use."""

    factory: Factory
    conns: list[asyncpg.Connection]
    admin_id: int
    facility_id: int = 0
    region_id: int = 0
    booths: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def admin(self) -> Principal:
        return Principal(
            user_id=self.admin_id,
            username="factory-admin",
            role="admin",
            facility_id=None,
            region_id=None,
            via="token",
        )

    async def site(self, booths: int = BOOKINGS_PER_ROUND) -> None:
        self.region_id = await self.factory.region()
        self.facility_id = await self.factory.facility(self.region_id)
        self.booths = [await self.factory.booth(self.facility_id) for _ in range(booths)]
        await self.factory.conn.execute(
            "INSERT INTO call_policies (scope, scope_facility_id, allowance) VALUES ('facility', $1, 'family')",
            self.facility_id,
        )
        await self.factory.conn.execute(
            """INSERT INTO call_policy_versions (policy_id, version, period, calls_allowed, max_minutes,
                   min_lead_minutes, max_days_ahead, cancel_cutoff_minutes, no_show_consumes, booth_kinds)
               SELECT policy_id, 1, 'week', 20, 15, 0, 14, 60, true, ARRAY['phone', 'video']
                 FROM call_policies WHERE scope_facility_id = $1""",
            self.facility_id,
        )

    async def inmate_with_contact(self, phone: str | None = None) -> tuple[int, int]:
        inmate = await self.factory.inmate(self.facility_id)
        return inmate, await self.factory.contact(inmate, phone)

    async def book(
        self, conn: asyncpg.Connection, *, booth: int, inmate: int, contact: int, starts_at: datetime
    ) -> None:
        request = BookingRequest(self.facility_id, booth, inmate, contact, starts_at)
        try:
            async with conn.transaction():
                await book_call(conn, request, user_id=self.admin_id, actor=ACTOR, now=NOW)
            self._count("booked")
        except ScheduleError as exc:
            self._count(exc.code)
        except Exception as exc:  # noqa: BLE001 - other domain refusals (the watchlist's) count as refusals
            code = getattr(exc, "code", None)
            if code is None:
                raise
            self._count(code)

    def plan(self, booths: list[int], people: list[tuple[int, int]], slots: list[datetime]) -> list[Job]:
        """One booking job per (booth, (inmate, contact), slot)."""
        return [
            functools.partial(self.book, booth=b, inmate=p[0], contact=p[1], starts_at=s)
            for b, p, s in zip(booths, people, slots, strict=False)
        ]

    def _count(self, what: str) -> None:
        self.outcomes[what] = self.outcomes.get(what, 0) + 1

    async def race(self, bookings: list[Job], change: Job, round_no: int) -> None:
        """Run the bookings and the change at once: one round in three the change starts clearly first, one
        clearly last, and in the others anywhere among the bookings (1.5 ms apart, with jitter), so every
        order happens whatever the machine's load."""
        n = len(bookings)
        kind = round_no % 3
        if kind == 0:
            position, starts = 0, [0.0] + [0.015] * n
        elif kind == 1:
            position, starts = n, [0.0] * n + [0.015]
        else:
            position, starts = (round_no // 3) % (n + 1), [0.0015 * i for i in range(n + 1)]

        async def delayed(i: int, job: Job, conn: asyncpg.Connection) -> Any:
            await asyncio.sleep(starts[i] + random.uniform(0, 0.0015))
            return await job(conn)

        jobs = [*bookings[:position], change, *bookings[position:]]
        results = await asyncio.gather(
            *[delayed(i, job, self.conns[i]) for i, job in enumerate(jobs)], return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r


@pytest.fixture
async def race(owner_conn: asyncpg.Connection, database: DatabaseTarget) -> AsyncIterator[Race]:
    factory = Factory(owner_conn)
    conns = [await connect(database.app_dsn) for _ in range(BOOKINGS_PER_ROUND + 1)]
    try:
        yield Race(factory, conns, await factory._system_user())
    finally:
        for c in conns:
            await c.close()


async def _active_count(conn: asyncpg.Connection, where: str, *args: Any) -> int:
    # The predicates are constants of this file.
    query = f"""SELECT count(*) FROM bookings b JOIN contacts k ON k.id = b.contact_id JOIN inmates i ON i.id = b.inmate_id
                 WHERE b.status IN ('booked', 'checked_in') AND ({where})"""  # noqa: S608
    return await conn.fetchval(query, *args)


async def _cancelled_by(conn: asyncpg.Connection) -> dict[str | None, int]:
    """Cancellations per cause: the change cancelled the bookings that committed before it."""
    rows = await conn.fetch(
        "SELECT cancel_cause, count(*) AS n FROM bookings WHERE status = 'cancelled' GROUP BY 1"
    )
    return {r["cancel_cause"]: r["n"] for r in rows}


def _slots(n: int, day: int = 2) -> list[datetime]:
    return [local(day, time(9, 0)) + timedelta(minutes=15 * i) for i in range(n)]


async def test_a_closure_added_while_bookings_are_made_leaves_none_inside_it(race: Race) -> None:
    from wartel.registry.hours import add_closure

    await race.site()
    for round_no in range(ROUNDS):
        day = 1 + round_no % 12
        people = [await race.inmate_with_contact() for _ in range(BOOKINGS_PER_ROUND)]
        slots = _slots(BOOKINGS_PER_ROUND, day)
        bookings = race.plan(race.booths, people, slots)

        async def close(conn: asyncpg.Connection, day: int = day) -> None:
            async with conn.transaction():
                await add_closure(
                    conn,
                    race.facility_id,
                    starts_local=datetime.combine(BASE + timedelta(days=day), time(8)),
                    ends_local=datetime.combine(BASE + timedelta(days=day), time(16)),
                    kind="closure",
                    reason="race test",
                    created_by=None,
                    actor=ACTOR,
                )

        await race.race(bookings, close, round_no)
    assert (
        await _active_count(
            race.factory.conn,
            """EXISTS (SELECT 1 FROM closures c
        WHERE c.facility_id = b.facility_id AND c.during && b.slot)""",
        )
        == 0
    ), race.outcomes
    assert race.outcomes.get("facility_closed", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"closure"}, causes


async def test_bookings_moved_into_a_day_being_closed_are_refused_or_cancelled(race: Race) -> None:
    """Rescheduling takes the same locks as booking (then the booking row): no move lands in a new closure."""
    from schedules.booking import reschedule_booking
    from wartel.registry.hours import add_closure

    await race.site()
    for round_no in range(ROUNDS):
        people = [await race.inmate_with_contact() for _ in range(BOOKINGS_PER_ROUND)]
        made = []
        for i, (inmate, contact) in enumerate(people):
            async with race.conns[0].transaction():
                request = BookingRequest(
                    race.facility_id,
                    race.booths[i],
                    inmate,
                    contact,
                    local(1, time(8)) + timedelta(minutes=15 * round_no),
                )
                made.append(
                    (await book_call(race.conns[0], request, user_id=race.admin_id, actor=ACTOR, now=NOW))[
                        "booking_id"
                    ]
                )
        day = 2 + round_no

        async def move(conn: asyncpg.Connection, booking_id: int, starts_at: datetime) -> None:
            try:
                async with conn.transaction():
                    await reschedule_booking(
                        conn,
                        booking_id,
                        facility_ids=None,
                        starts_at=starts_at,
                        booth_id=None,
                        reason="facility",
                        user_id=race.admin_id,
                        actor=ACTOR,
                        now=NOW,
                    )
                race._count("moved")
            except ScheduleError as exc:
                race._count(exc.code)

        moves: list[Job] = [
            functools.partial(move, booking_id=b, starts_at=s)
            for b, s in zip(made, _slots(BOOKINGS_PER_ROUND, day), strict=True)
        ]

        async def close(conn: asyncpg.Connection, day: int = day) -> None:
            async with conn.transaction():
                await add_closure(
                    conn,
                    race.facility_id,
                    starts_local=datetime.combine(BASE + timedelta(days=day), time(8)),
                    ends_local=datetime.combine(BASE + timedelta(days=day), time(16)),
                    kind="closure",
                    reason="race test",
                    created_by=None,
                    actor=ACTOR,
                )

        await race.race(moves, close, round_no)
    assert (
        await _active_count(
            race.factory.conn,
            """EXISTS (SELECT 1 FROM closures c
        WHERE c.facility_id = b.facility_id AND c.during && b.slot)""",
        )
        == 0
    ), race.outcomes
    assert race.outcomes.get("facility_closed", 0) > 0 and race.outcomes.get("moved", 0) > 0, race.outcomes
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"closure"}, causes


async def test_a_contact_revoked_while_it_is_booked_leaves_no_booking_to_it(race: Race) -> None:
    from wartel.registry.contacts import revoke_contact

    await race.site()
    for round_no in range(ROUNDS):
        inmate, contact = await race.inmate_with_contact()
        others = [await race.inmate_with_contact() for _ in range(BOOKINGS_PER_ROUND - 1)]
        # Several slots for the one inmate and contact (its own quota is ample), others as background.
        slots = _slots(BOOKINGS_PER_ROUND, 1 + round_no % 12)
        people = [(inmate, contact)] * 3 + others[: BOOKINGS_PER_ROUND - 3]
        bookings = race.plan(race.booths, people, slots)

        async def revoke(conn: asyncpg.Connection, contact: int = contact) -> None:
            async with conn.transaction():
                await revoke_contact(conn, race.admin, contact, reason="race test", actor=ACTOR)

        await race.race(bookings, revoke, round_no)
    assert await _active_count(race.factory.conn, "k.status IN ('revoked', 'rejected')") == 0, race.outcomes
    assert race.outcomes.get("contact_blocked", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"contact_withdrawn"}, causes


async def test_a_reduction_imposed_while_bookings_are_made_serialises_with_them(race: Race) -> None:
    """A reduction to one five-minute call keeps the bookings made before it (docs/booking.md); a booking
    judged under it (its max_minutes is 5) never finds another charged call in the period.

    The window this guards is narrow (a booking judged before the reduction charging after one judged under
    it): the code before the lock order passed this test in 3 x 12 and 2 x 60 rounds. It is kept as the
    proof that the reduction and bookings run together without deadlock and with the documented outcome.
    """
    from schedules.sanctions import impose_sanction

    await race.site()
    for round_no in range(ROUNDS):
        day = 1 + round_no % 5
        inmate, contact = await race.inmate_with_contact()
        bookings = race.plan(
            race.booths, [(inmate, contact)] * BOOKINGS_PER_ROUND, _slots(BOOKINGS_PER_ROUND, day)
        )

        async def reduce(conn: asyncpg.Connection, inmate: int = inmate, day: int = day) -> None:
            async with conn.transaction():
                await impose_sanction(
                    conn,
                    inmate_id=inmate,
                    facility_id=race.facility_id,
                    kind="reduce",
                    starts_at=local(day, time(0)),
                    ends_at=local(day + 1, time(0)),
                    reason="race test",
                    calls_allowed=1,
                    max_minutes=5,
                    user_id=race.admin_id,
                    actor=ACTOR,
                )

        await race.race(bookings, reduce, round_no)
        made = await race.factory.conn.fetch(
            "SELECT max_minutes FROM bookings WHERE inmate_id = $1 AND charged AND status = 'booked'", inmate
        )
        if any(r["max_minutes"] == 5 for r in made):
            assert len(made) == 1, (round_no, [r["max_minutes"] for r in made], race.outcomes)
            race._count("judged_under_the_reduction")
    # Both orders happened: bookings judged under the reduction, and bookings refused by it.
    assert race.outcomes.get("judged_under_the_reduction", 0) > 0, race.outcomes
    assert race.outcomes.get("quota_exhausted", 0) > 0, race.outcomes


async def test_a_suspension_imposed_while_bookings_are_made_leaves_none_inside_it(race: Race) -> None:
    from schedules.sanctions import impose_sanction

    await race.site()
    for round_no in range(ROUNDS):
        day = 1 + round_no % 12
        inmate, contact = await race.inmate_with_contact()
        slots = _slots(BOOKINGS_PER_ROUND, day)
        bookings = race.plan(race.booths, [(inmate, contact)] * BOOKINGS_PER_ROUND, slots)

        async def suspend(conn: asyncpg.Connection, inmate: int = inmate, day: int = day) -> None:
            async with conn.transaction():
                await impose_sanction(
                    conn,
                    inmate_id=inmate,
                    facility_id=race.facility_id,
                    kind="suspend",
                    starts_at=local(day, time(0)),
                    ends_at=local(day + 1, time(0)),
                    reason="race test",
                    calls_allowed=None,
                    max_minutes=None,
                    user_id=race.admin_id,
                    actor=ACTOR,
                )

        await race.race(bookings, suspend, round_no)
    assert (
        await _active_count(
            race.factory.conn,
            """b.allowance = 'family' AND EXISTS (SELECT 1 FROM sanctions s
        WHERE s.inmate_id = b.inmate_id AND s.kind = 'suspend' AND s.lifted_at IS NULL
          AND s.during && b.slot)""",
        )
        == 0
    ), race.outcomes
    assert race.outcomes.get("inmate_sanctioned", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"sanction"}, causes


async def test_a_number_blocked_while_it_is_booked_leaves_no_booking_to_it(race: Race) -> None:
    from audit.detection.watchlist import add_entry

    await race.site()
    for round_no in range(ROUNDS):
        # Numbers under one prefix, blocked as a prefix in odd rounds and as one number in even ones.
        prefix = f"+62857{round_no:04d}"
        people = [await race.inmate_with_contact(f"{prefix}{i:03d}") for i in range(BOOKINGS_PER_ROUND)]
        slots = _slots(BOOKINGS_PER_ROUND, 1 + round_no % 12)
        bookings = race.plan(race.booths, people, slots)
        kind, pattern = ("prefix", prefix) if round_no % 2 else ("number", f"{prefix}000")
        scope, scope_id = [("facility", race.facility_id), ("region", race.region_id), ("national", 0)][
            round_no % 3
        ]

        async def block(
            conn: asyncpg.Connection,
            kind: str = kind,
            pattern: str = pattern,
            scope: str = scope,
            scope_id: int = scope_id,
        ) -> None:
            async with conn.transaction():
                entry = await add_entry(
                    conn,
                    scope=scope,
                    scope_id=scope_id,
                    pattern_kind=kind,  # type: ignore[arg-type]
                    pattern=pattern,
                    mode="blocked",
                    reason="race test",
                    user_id=race.admin_id,
                    actor=ACTOR,
                )
                await cancel_bookings_to_blocked_number(
                    conn, entry, actor=ACTOR, user_id=race.admin_id, now=NOW
                )

        await race.race(bookings, block, round_no)
    assert (
        await _active_count(
            race.factory.conn,
            """EXISTS (SELECT 1 FROM watchlist w JOIN facilities f
        ON f.id = b.facility_id WHERE w.removed_at IS NULL AND w.mode = 'blocked'
          AND (w.scope = 'national' OR (w.scope = 'region' AND w.scope_id = f.region_id)
               OR (w.scope = 'facility' AND w.scope_id = f.id))
          AND (w.pattern = k.phone_e164 OR (w.pattern_kind = 'prefix' AND starts_with(k.phone_e164, w.pattern))))
        """,
        )
        == 0
    ), race.outcomes
    assert race.outcomes.get("number_blocked", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"number_blocked"}, causes


async def test_a_booth_put_out_of_service_while_it_is_booked_keeps_no_booking(race: Race) -> None:
    from wartel.registry.facilities import set_booth_service

    await race.site()
    for round_no in range(ROUNDS):
        booth = await race.factory.booth(race.facility_id)
        people = [await race.inmate_with_contact() for _ in range(BOOKINGS_PER_ROUND)]
        slots = _slots(BOOKINGS_PER_ROUND, 1 + round_no % 12)
        bookings = race.plan([booth] * BOOKINGS_PER_ROUND, people, slots)

        async def out_of_service(conn: asyncpg.Connection, booth: int = booth) -> None:
            async with conn.transaction():
                await set_booth_service(
                    conn, race.facility_id, booth, in_service=False, note=None, actor=ACTOR
                )

        await race.race(bookings, out_of_service, round_no)
    assert (
        await _active_count(
            race.factory.conn,
            """EXISTS (SELECT 1 FROM booths x
        WHERE x.facility_id = b.facility_id AND x.booth_id = b.booth_id AND NOT x.in_service)""",
        )
        == 0
    ), race.outcomes
    assert race.outcomes.get("booth_out_of_service", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"booth_out_of_service"}, causes


async def test_an_inmate_transferred_or_released_while_booked_keeps_no_booking_here(race: Race) -> None:
    from wartel.registry.inmates import facility_today, release_inmate, transfer_inmate

    await race.site()
    # Released today in the facility's own calendar: a release date may not lie in the future.
    today = await facility_today(race.factory.conn, race.facility_id)
    elsewhere = await race.factory.facility(race.region_id)
    for round_no in range(ROUNDS):
        inmate, contact = await race.inmate_with_contact()
        slots = _slots(BOOKINGS_PER_ROUND, 1 + round_no % 12)
        bookings = race.plan(race.booths, [(inmate, contact)] * BOOKINGS_PER_ROUND, slots)

        async def leave(conn: asyncpg.Connection, inmate: int = inmate, round_no: int = round_no) -> None:
            async with conn.transaction():
                if round_no % 2:
                    await release_inmate(conn, race.admin, inmate, released_on=today, actor=ACTOR)
                else:
                    await transfer_inmate(
                        conn, race.admin, inmate, to_facility_id=elsewhere, reason=None, actor=ACTOR
                    )

        await race.race(bookings, leave, round_no)
    assert (
        await _active_count(
            race.factory.conn, "i.status <> 'active' OR i.current_facility_id <> b.facility_id"
        )
        == 0
    ), race.outcomes
    refused = race.outcomes.get("inmate_not_active", 0) + race.outcomes.get("inmate_not_found", 0)
    assert refused > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"inmate_left"}, causes


async def test_opening_hours_changed_while_bookings_are_made_leave_none_outside_them(race: Race) -> None:
    from wartel.registry.hours import Window, replace_opening_hours

    await race.site()
    for round_no in range(ROUNDS):
        day = 1 + round_no % 12
        people = [await race.inmate_with_contact() for _ in range(BOOKINGS_PER_ROUND)]
        # Afternoon slots, then the afternoon is taken out of every day's hours.
        slots = [local(day, time(13, 0)) + timedelta(minutes=15 * i) for i in range(BOOKINGS_PER_ROUND)]
        bookings = race.plan(race.booths, people, slots)
        closes = time(12, 0) if round_no % 2 == 0 else time(16, 0)

        async def new_hours(conn: asyncpg.Connection, closes: time = closes) -> None:
            async with conn.transaction():
                await replace_opening_hours(
                    conn, race.facility_id, [Window(d, time(8, 0), closes) for d in range(1, 8)], actor=ACTOR
                )

        await race.race(bookings, new_hours, round_no)
        assert (
            await _active_count(
                race.factory.conn,
                """NOT EXISTS (SELECT 1 FROM opening_hours oh
        WHERE oh.facility_id = b.facility_id
          AND oh.weekday = extract(isodow FROM lower(b.slot) AT TIME ZONE 'Asia/Jakarta')
          AND oh.opens <= (lower(b.slot) AT TIME ZONE 'Asia/Jakarta')::time
          AND (upper(b.slot) AT TIME ZONE 'Asia/Jakarta')::time <= oh.closes)""",
            )
            == 0
        ), (round_no, race.outcomes)
    assert race.outcomes.get("outside_opening_hours", 0) > 0, race.outcomes
    # Both orders happened: refused after the change, and cancelled (with its cause) by the change.
    assert set(causes := await _cancelled_by(race.factory.conn)) == {"hours_changed"}, causes


async def test_a_policy_lowering_the_allowance_serialises_with_bookings(race: Race) -> None:
    """Bookings made under the old version are kept (docs/booking.md); one made under the new version never
    finds more charged calls in its period than the new version allows."""
    from schedules.policy import PolicySettings, set_policy

    await race.site()
    for round_no in range(ROUNDS):
        inmate, contact = await race.inmate_with_contact()
        slots = _slots(BOOKINGS_PER_ROUND, 1 + round_no % 5)
        bookings = race.plan(race.booths, [(inmate, contact)] * BOOKINGS_PER_ROUND, slots)
        calls = 2 if round_no % 2 == 0 else 20

        async def lower(conn: asyncpg.Connection, calls: int = calls) -> None:
            settings = PolicySettings(
                period="week",
                calls_allowed=calls,
                max_minutes=15,
                min_lead_minutes=0,
                max_days_ahead=14,
                cancel_cutoff_minutes=60,
                no_show_consumes=True,
                booth_kinds=("phone", "video"),
            )
            async with conn.transaction():
                await set_policy(
                    conn,
                    scope="facility",
                    region_id=None,
                    facility_id=race.facility_id,
                    risk_level=None,
                    allowance="family",
                    settings=settings,
                    note="race test",
                    user_id=race.admin_id,
                    actor=ACTOR,
                )

        await race.race(bookings, lower, round_no)
        rows = await race.factory.conn.fetch(
            """SELECT b.policy_version, v.calls_allowed,
                      (SELECT count(*) FROM bookings o WHERE o.inmate_id = b.inmate_id AND o.charged
                          AND o.period_start = b.period_start AND o.policy_version <= b.policy_version) AS charged
                 FROM bookings b JOIN call_policy_versions v USING (policy_id)
                WHERE b.inmate_id = $1 AND b.charged AND v.version = b.policy_version""",
            inmate,
        )
        # A booking made under a version allowing N found fewer than N charged before it, and every booking
        # made under an earlier version came before that version: so the bookings of that version and the
        # earlier ones never number more than N. (Later, larger versions may add more.)
        for r in rows:
            assert r["charged"] <= r["calls_allowed"], (round_no, dict(r), race.outcomes)
    assert race.outcomes.get("quota_exhausted", 0) > 0, race.outcomes
