"""The live board of a facility: a JSON snapshot and a server-sent events stream pushed on every change.

Changes arrive by PostgreSQL LISTEN/NOTIFY on ``board_<facility_id>`` (sent by the domain inside the
changing transaction, so only committed changes are heard). One pooled connection per process listens for
every open stream; it is returned to the pool when the last stream closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import Field

from schedules.board import board_channel, facility_board
from wartel import keys
from wartel.db import acquire
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.scope import build_scope

routes = EndpointTable()
TAGS = ["board"]
# Even without changes the stream re-sends the board this often, so elapsed/remaining stay fresh and a
# lost listener connection cannot freeze a screen for long.
REFRESH_S = 10.0


class Supervisor(OutModel):
    user_id: int
    name: str | None


class LiveCall(OutModel):
    call_id: int
    booking_id: int | None
    booth_id: int
    booth_name: str
    inmate_id: int | None
    inmate_name: str | None
    registration_no: str | None
    allowance: Literal["family", "legal"] | None
    started_at: datetime
    limit_at: datetime | None
    elapsed_s: int
    remaining_s: int | None = Field(description="Seconds until the call is ended as time_limited.")
    answered: bool
    source: Literal["officer", "kiosk"]
    supervisor: Supervisor | None


class NextBooking(OutModel):
    booking_id: int
    inmate_id: int
    inmate_name: str
    registration_no: str
    starts_at: datetime
    ends_at: datetime
    status: Literal["booked", "checked_in"]
    allowance: Literal["family", "legal"]
    max_minutes: int


class BoardBooth(OutModel):
    booth_id: int
    name: str
    kind: Literal["phone", "video"]
    in_service: bool
    live_call_id: int | None
    next: list[NextBooking]


class BoardOut(OutModel):
    facility_id: int
    time_zone: str
    generated_at: datetime
    calls: list[LiveCall]
    booths: list[BoardBooth]


class FacilityPath(ApiModel):
    facility_id: int


class BoardQuery(QueryModel):
    next: int = Field(default=3, ge=1, le=20, description="Next bookings shown per booth.")


class StreamQuery(BoardQuery):
    once: bool = Field(default=False, description="Send one board and close (scripts, health checks).")


class BoardListener:
    """One LISTEN connection per process, fanning notifications out to the open streams' queues."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.conn: asyncpg.Connection | None = None
        self.queues: dict[int, set[asyncio.Queue[str]]] = {}
        self.lock = asyncio.Lock()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        facility_id = int(channel.rsplit("_", 1)[1])
        for q in self.queues.get(facility_id, ()):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(payload)

    async def subscribe(self, facility_id: int) -> asyncio.Queue[str]:
        async with self.lock:
            if self.conn is None:
                self.conn = await self.pool.acquire()
            if facility_id not in self.queues:
                await self.conn.add_listener(board_channel(facility_id), self._on_notify)
                self.queues[facility_id] = set()
            q: asyncio.Queue[str] = asyncio.Queue(maxsize=256)
            self.queues[facility_id].add(q)
            return q

    async def unsubscribe(self, facility_id: int, q: asyncio.Queue[str]) -> None:
        async with self.lock:
            subscribers = self.queues.get(facility_id, set())
            subscribers.discard(q)
            if not subscribers and facility_id in self.queues:
                del self.queues[facility_id]
                if self.conn is not None:
                    with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                        await self.conn.remove_listener(board_channel(facility_id), self._on_notify)
            if not self.queues and self.conn is not None:
                conn, self.conn = self.conn, None
                await self.pool.release(conn)


def _listener(app: web.Application) -> BoardListener:
    state = app[keys.STATE]
    if "board_listener" not in state:
        state["board_listener"] = BoardListener(app[keys.POOL])
    return state["board_listener"]


@routes.get("/api/v1/facilities/{facility_id}/board", summary="Live board: calls in progress, next bookings",
            tags=TAGS, path_params=FacilityPath, query=BoardQuery, response=BoardOut, errors=(404,))
async def board(req: web.Request, ctx: Ctx) -> BoardOut:
    await ctx.scope.require_facility(ctx.db, ctx.path.facility_id)
    return BoardOut(**await facility_board(ctx.db, ctx.path.facility_id, next_per_booth=ctx.query.next))


@routes.get("/api/v1/facilities/{facility_id}/board/stream", summary="Live board as server-sent events",
            tags=TAGS, path_params=FacilityPath, query=StreamQuery, db=False, errors=(404,),
            response_content={"text/event-stream": {"schema": {"type": "string"}}},
            description="`text/event-stream`. Each `event: board` carries a full board (the JSON of GET …/board) "
                        f"in `data`: at once, after every committed change, and every {REFRESH_S:.0f} s.")
async def board_stream(req: web.Request, ctx: Ctx) -> web.StreamResponse:
    pool = req.app[keys.POOL]
    facility_id, per_booth = ctx.path.facility_id, ctx.query.next
    timeout = ctx.settings.db_acquire_timeout_s

    async def snapshot() -> str:
        async with acquire(pool, timeout) as conn:
            return BoardOut(**await facility_board(conn, facility_id, next_per_booth=per_booth)).model_dump_json()

    async with acquire(pool, timeout) as conn:
        # A stream pins no connection (db=False), so its scope is built on this short checkout.
        await (await build_scope(conn, ctx.user)).require_facility(conn, facility_id)
    listener = _listener(req.app)
    queue = await listener.subscribe(facility_id)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(req)
        seq = 0
        while True:
            seq += 1
            await resp.write(f"event: board\nid: {seq}\ndata: {await snapshot()}\n\n".encode())
            if ctx.query.once:
                await resp.write_eof()
                return resp
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.get(), timeout=REFRESH_S)
            # Coalesce a burst of changes into one board.
            while not queue.empty():
                queue.get_nowait()
    except (ConnectionResetError, ConnectionError):
        return resp
    finally:
        await listener.unsubscribe(facility_id, queue)
