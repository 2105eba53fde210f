"""Concurrent HTTP load against live services, and the bookkeeping of what was acknowledged.

A workload knows how to make one write over HTTP and how to check, afterwards and straight from the
database, that every acknowledged write exists with its audit record and that nothing is half-written.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import asyncpg

from audit.log import leaf_hash


@dataclass
class Outcome:
    status: int | None  # None: no HTTP answer at all (connection refused or reset)
    ident: Any = None  # the id of what was written, for a 2xx
    retry_after: bool = False
    problem: bool = False
    code: str | None = None
    ms: float = 0.0


@dataclass
class Tally:
    """Everything the clients saw."""

    acknowledged: list[Any] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    no_answer: int = 0
    unavailable: int = 0  # 503 with Retry-After: the service said "not now" properly
    max_ms: float = 0.0
    # (sent at, status, answered at), seconds since the rush began.
    timeline: list[tuple[float, int | None, float]] = field(default_factory=list)

    def add(self, o: Outcome, sent: float, answered: float) -> None:
        self.timeline.append((sent, o.status, answered))
        self.max_ms = max(self.max_ms, o.ms)
        self.statuses[str(o.status)] += 1
        if o.code:
            self.codes[o.code] += 1
        if o.status is None:
            self.no_answer += 1
        elif 200 <= o.status < 300:
            self.acknowledged.append(o.ident)
        elif o.status == 503 and o.retry_after and o.problem:
            self.unavailable += 1
        elif o.status >= 500:
            self.server_errors.append(f"{o.status} {o.code} retry_after={o.retry_after} problem={o.problem}")


class Workload(Protocol):
    name: str

    async def attempt(self, http: aiohttp.ClientSession, url: str, client: int, n: int) -> Outcome: ...

    async def check(self, conn: asyncpg.Connection, acknowledged: list[Any]) -> dict[str, Any]: ...


async def send(http: aiohttp.ClientSession, method: str, url: str, *, timeout_s: float = 20,
               ident: Callable[[Any], Any] | None = None, **kw: Any) -> Outcome:
    started = time.perf_counter()
    try:
        async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=timeout_s), **kw) as r:
            body = await r.read()
            ms = (time.perf_counter() - started) * 1000
            problem = r.content_type == "application/problem+json"
            code = None
            doc: Any = None
            try:
                doc = json.loads(body) if body else None
            except ValueError:
                doc = None
            if problem and isinstance(doc, dict):
                code = doc.get("code")
            out = Outcome(r.status, retry_after="Retry-After" in r.headers, problem=problem, code=code, ms=ms)
            if 200 <= r.status < 300 and ident is not None:
                out.ident = ident(doc)
            return out
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return Outcome(None, code=type(exc).__name__, ms=(time.perf_counter() - started) * 1000)


async def rush(workload: Workload, urls: list[str], *, clients: int, stop: asyncio.Event,
               max_per_client: int = 10_000, pause_s: float = 0.0) -> Tally:
    """``clients`` concurrent loops, each making writes until ``stop`` is set.

    ``urls`` is read at every attempt, so a scenario can swap in a restarted service's address mid-run;
    client ``i`` uses ``urls[i % len(urls)]`` (two services share the load evenly).
    """
    tally = Tally()
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def client(i: int) -> None:
            for n in range(max_per_client):
                if stop.is_set():
                    return
                url = urls[i % len(urls)]
                sent = time.monotonic() - started
                outcome = await workload.attempt(http, url, i, n)
                tally.add(outcome, sent, time.monotonic() - started)
                if outcome.status is None:
                    await asyncio.sleep(0.05)  # nothing listening: do not spin
                elif pause_s:
                    await asyncio.sleep(pause_s)

        await asyncio.gather(*(client(i) for i in range(clients)))
    return tally


async def audit_consistent(conn: asyncpg.Connection) -> tuple[bool, str]:
    """Independent structural check of every audit log: gapless 1..size, leaf hashes match the bytes."""
    logs = await conn.fetch("SELECT log_id, scope, scope_id, size FROM audit.logs ORDER BY log_id")
    for log in logs:
        rows = await conn.fetch("SELECT seq, canonical, leaf_hash FROM audit.entries WHERE log_id = $1 ORDER BY seq",
                                log["log_id"])
        if len(rows) != log["size"]:
            return False, f"log {log['scope']}:{log['scope_id']} has {len(rows)} entries, size says {log['size']}"
        for expected, row in enumerate(rows, start=1):
            if row["seq"] != expected:
                return False, f"log {log['scope']}:{log['scope_id']} gap at seq {expected}"
            if leaf_hash(row["canonical"]) != bytes(row["leaf_hash"]):
                return False, f"log {log['scope']}:{log['scope_id']} leaf hash wrong at seq {expected}"
    return True, f"{len(logs)} logs consistent"


async def audited_subjects(conn: asyncpg.Connection, action: str, subject_type: str) -> Counter[str]:
    rows = await conn.fetch("SELECT subject_id FROM audit.entries WHERE action = $1 AND subject_type = $2",
                            action, subject_type)
    return Counter(r["subject_id"] for r in rows)


class TokenWorkload:
    """Creates API tokens: a write with an audit record that exists from the foundation on."""

    name = "tokens"

    def __init__(self, bearer: str) -> None:
        self.bearer = bearer

    async def attempt(self, http: aiohttp.ClientSession, url: str, client: int, n: int) -> Outcome:
        return await send(http, "POST", f"{url}/api/v1/auth/tokens", json={"name": f"load-{client}-{n}"},
                          headers={"Authorization": f"Bearer {self.bearer}"}, ident=lambda d: d["id"])

    async def check(self, conn: asyncpg.Connection, acknowledged: list[Any]) -> dict[str, Any]:
        rows = await conn.fetch("SELECT id, name LIKE 'load-%' AS load FROM api_tokens")
        stored = {r["id"] for r in rows if r["load"]}
        every = {str(r["id"]) for r in rows}
        audited = await audited_subjects(conn, "auth.token_created", "api_token")
        lost = [i for i in acknowledged if i not in stored]
        # Half-written: a row without its audit record, an audit record without its row, or a duplicate.
        half = [i for i in stored if audited[str(i)] != 1]
        half += [s for s in audited if s not in every]
        return {"acknowledged": len(acknowledged), "stored": len(stored), "lost": len(lost),
                "half_written": len(half), "unacknowledged_but_complete": len(stored) - len(set(acknowledged))}
