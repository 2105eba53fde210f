"""Workloads for fault scenarios: a booking rush (the real thing) and API token creation (a plain audited write).

The booking rush: officers book booths of one facility for many inmates, many clients wanting the same
early slots, with an Idempotency-Key per request. A request that got no answer (the service died under it)
is retried with the same key, as a real client would; the key guarantees it books at most once.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg

from tests.factory import Factory
from tests.faults.cluster import Cluster
from tests.faults.load import Outcome, TokenWorkload, audited_subjects, send
from tests.faults.seed import admin_token, token_for

TZ = "Asia/Jakarta"


def _slot_starts(days: range, slot_minutes: int = 15) -> list[datetime]:
    zone = ZoneInfo(TZ)
    today: date = datetime.now(zone).date()
    starts = []
    for d in days:
        day = today + timedelta(days=d)
        at = datetime.combine(day, time(8, 0), tzinfo=zone)
        while at.time() < time(16, 0):
            starts.append(at.astimezone(UTC))
            at += timedelta(minutes=slot_minutes)
    return starts


class BookingWorkload:
    name = "bookings"

    def __init__(self, facility_id: int, booths: list[int], people: list[tuple[int, int]], tokens: list[str],
                 seed: int = 7) -> None:
        self.facility_id = facility_id
        self.booths = booths
        self.people = people  # (inmate_id, contact_id)
        self.tokens = tokens
        self.slots = _slot_starts(range(2, 9))
        self.hot = self.slots[:4]  # everyone wants the first morning slots
        self.seed = seed
        self._pending: dict[int, tuple[dict[str, Any], str]] = {}
        self.retried = 0
        self.replayed = 0

    def _request(self, client: int, n: int) -> dict[str, Any]:
        rnd = random.Random(self.seed * 1_000_003 + client * 10_007 + n)
        inmate, contact = rnd.choice(self.people)
        starts = rnd.choice(self.hot) if rnd.random() < 0.3 else rnd.choice(self.slots)
        return {"facility_id": self.facility_id, "booth_id": rnd.choice(self.booths), "inmate_id": inmate,
                "contact_id": contact, "starts_at": starts.isoformat()}

    async def attempt(self, http: aiohttp.ClientSession, url: str, client: int, n: int) -> Outcome:
        if client in self._pending:
            body, key = self._pending.pop(client)
            self.retried += 1
        else:
            body, key = self._request(client, n), uuid.uuid4().hex
        headers = {"Authorization": f"Bearer {self.tokens[client % len(self.tokens)]}", "Idempotency-Key": key}
        out = await send(http, "POST", f"{url}/api/v1/bookings", json=body, headers=headers,
                         ident=lambda d: d["booking_id"])
        if out.status is None:
            self._pending[client] = (body, key)  # no answer: the same request again, same key
        return out

    async def check(self, conn: asyncpg.Connection, acknowledged: list[Any]) -> dict[str, Any]:
        rows = await conn.fetch("SELECT booking_id, charged, inmate_id, allowance, period, period_start "
                                "FROM bookings WHERE facility_id = $1", self.facility_id)
        stored = {r["booking_id"] for r in rows}
        audited = await audited_subjects(conn, "booking.created", "booking")
        acked = set(acknowledged)
        lost = [b for b in acked if b not in stored]
        half = [b for b in stored if audited[str(b)] != 1]
        half += [s for s in audited if int(s) not in stored]
        # The quota ledger must count exactly the charged bookings: a booking without its charge (or the
        # reverse) is half-written too.
        ledger_off = await conn.fetchval(
            """SELECT count(*) FROM (
                 SELECT inmate_id, allowance, period, period_start, count(*) FILTER (WHERE charged) AS n
                   FROM bookings WHERE facility_id = $1 GROUP BY 1, 2, 3, 4) b
               FULL JOIN quota_ledger q USING (inmate_id, allowance, period, period_start)
              WHERE coalesce(b.n, 0) <> coalesce(q.used, 0)""", self.facility_id)
        double = await conn.fetchval(
            """SELECT count(*) FROM bookings a JOIN bookings b ON a.facility_id = b.facility_id
                 AND a.booking_id < b.booking_id AND a.slot && b.slot
                 AND a.status <> 'cancelled' AND b.status <> 'cancelled'
                 AND (a.booth_id = b.booth_id OR a.inmate_id = b.inmate_id)
              WHERE a.facility_id = $1""", self.facility_id)
        overdrawn = await conn.fetchval("SELECT count(*) FROM quota_ledger WHERE used > allowed")
        return {"acknowledged": len(acked), "stored": len(stored), "lost": len(lost),
                "half_written": len(half) + ledger_off, "ledger_mismatches": ledger_off,
                "double_bookings": double, "overdrawn_quotas": overdrawn,
                "unacknowledged_but_complete": len(stored - acked), "retries_with_same_key": self.retried}


async def booking_world(conn: asyncpg.Connection, *, inmates: int = 150, booths: int = 4,
                        officers: int = 4) -> BookingWorkload:
    f = Factory(conn)
    fid = await f.facility(await f.region(), time_zone=TZ, slot_minutes=15)
    booth_ids = [await f.booth(fid) for _ in range(booths)]
    people = []
    for _ in range(inmates):
        inmate = await f.inmate(fid)
        people.append((inmate, await f.contact(inmate)))
    tokens = [await token_for(conn, await f.user("officer", facility_id=fid)) for _ in range(officers)]
    return BookingWorkload(fid, booth_ids, people, tokens)


async def prepare_workload(cluster: Cluster, kind: str) -> Any:
    conn = await cluster.owner()
    try:
        if kind == "bookings":
            return await booking_world(conn)
        return TokenWorkload(await admin_token(conn))
    finally:
        await conn.close()
