"""Appending to the audit log: gapless per log under concurrency, and append-only for the service role."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from audit import Actor, LogRef, append
from audit.log import leaf_hash
from wartel.db import DatabaseTarget, connect

ACTOR = Actor(type="user", id="7", role="officer", request_id="req-1")


async def test_append_returns_gapless_sequence_and_the_leaf_of_the_canonical_text(app_conn) -> None:
    async with app_conn.transaction():
        first = await append(app_conn, LogRef.facility(1), action="booking.created", subject_type="booking",
                             subject_id=10, payload={"booth_id": 3, "slot": "09:00"}, actor=ACTOR)
        second = await append(app_conn, LogRef.facility(1), action="booking.cancelled", subject_type="booking",
                              subject_id=10, payload={}, actor=ACTOR)
        other = await append(app_conn, LogRef.region(1), action="policy.set", subject_type="policy",
                             subject_id="quota", actor=ACTOR)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    row = await app_conn.fetchrow("SELECT * FROM audit.entries WHERE log_id = $1 AND seq = 1", first.log_id)
    assert leaf_hash(row["canonical"]) == first.leaf_hash == row["leaf_hash"]
    body = json.loads(row["canonical"])
    assert body["seq"] == 1 and body["log"] == "facility:1" and body["action"] == "booking.created"
    assert body["payload"] == {"booth_id": 3, "slot": "09:00"}
    assert body["actor"] == {"id": "7", "role": "officer", "type": "user"}
    assert body["subject"] == {"id": "10", "type": "booking"} and body["request_id"] == "req-1"


async def test_an_entry_rolls_back_with_its_change(app_conn) -> None:
    with pytest.raises(RuntimeError):
        await append(app_conn, LogRef.facility(1), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    tx = app_conn.transaction()
    await tx.start()
    await append(app_conn, LogRef.facility(1), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    await tx.rollback()
    async with app_conn.transaction():
        entry = await append(app_conn, LogRef.facility(1), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    assert entry.seq == 1


REFUSED = [
    "UPDATE audit.entries SET action = 'other'",
    "DELETE FROM audit.entries",
    "TRUNCATE audit.entries",
    "UPDATE audit.logs SET size = 0",
    "INSERT INTO audit.entries (log_id, seq, log_name, recorded_at, actor_type, action, subject_type, subject_id, "
    "payload, leaf_hash) SELECT log_id, seq + 1, log_name, recorded_at, actor_type, action, subject_type, "
    "subject_id, payload, leaf_hash FROM audit.entries",
    "UPDATE audit.checkpoints SET size = 1",
    "DELETE FROM audit.checkpoints",
    "TRUNCATE audit.checkpoints",
    "DELETE FROM audit.verifications",
]


async def test_the_service_role_cannot_change_audit_data(app_conn) -> None:
    async with app_conn.transaction():
        await append(app_conn, LogRef.facility(1), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    for statement in REFUSED:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.execute(statement)
    assert await app_conn.fetchval("SELECT count(*) FROM audit.entries") == 1


async def test_even_the_owner_is_stopped_by_the_triggers(owner_conn) -> None:
    async with owner_conn.transaction():
        await append(owner_conn, LogRef.facility(1), action="x", subject_type="y", subject_id=1, actor=ACTOR)
    for statement in ("UPDATE audit.entries SET action = 'z'", "DELETE FROM audit.entries",
                      "TRUNCATE audit.entries"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError) as info:
            await owner_conn.execute(statement)
        assert info.value.constraint_name == "audit_append_only"


async def test_concurrent_appends_keep_every_log_gapless(database: DatabaseTarget) -> None:
    connections = await asyncio.gather(*(connect(database.app_dsn) for _ in range(32)))
    try:
        async def writer(i: int, conn: asyncpg.Connection) -> None:
            for j in range(50):
                async with conn.transaction():
                    await append(conn, LogRef.facility(1 + (i + j) % 4), action="call.started",
                                 subject_type="call", subject_id=f"{i}-{j}", actor=ACTOR)

        await asyncio.gather(*(writer(i, c) for i, c in enumerate(connections)))
        rows = await connections[0].fetch(
            "SELECT l.scope_id, l.size, count(e.seq) AS n, min(e.seq) AS lo, max(e.seq) AS hi "
            "FROM audit.logs l JOIN audit.entries e USING (log_id) GROUP BY l.scope_id, l.size")
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    assert sum(r["n"] for r in rows) == 32 * 50
    for r in rows:
        assert (r["lo"], r["hi"], r["n"]) == (1, r["size"], r["size"]), dict(r)


async def test_the_inlined_canonical_text_is_the_original_one_byte_for_byte(app_conn) -> None:
    """0012 rewrote audit.canonical_entry for speed; entries written under 0010 must still verify."""
    original = """SELECT json_build_object(
        'action', $7::text, 'actor', json_build_object('id', $5::text, 'role', $6::text, 'type', $4::text),
        'log', $1::text, 'payload', $10::jsonb,
        'recorded_at', to_char($3::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'request_id', $11::text, 'seq', $2::bigint, 'subject', json_build_object('id', $9::text, 'type', $8::text),
        'v', 1)::text"""
    current = "SELECT audit.canonical_entry($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)"
    from datetime import UTC, datetime

    cases = [
        ("facility:1", 1, datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "user", "7", "officer", "booking.created",
         "booking", "10", json.dumps({"b": [1, 2.50, None], "a": {"z": "\u00e9\n\"q\""}}), "req"),
        ("national:0", 2**40, datetime(2026, 1, 5, 2, 0, 0, 1, tzinfo=UTC), "system", None, None, 'a"b\\c',
         "x\ty", "\u2028", "{}", None),
    ]
    generated = "SELECT audit.canonical_text($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)"
    for args in cases:
        assert await app_conn.fetchval(current, *args) == await app_conn.fetchval(original, *args)
        # 0014 made the generated column's function PL/pgSQL: still the same bytes.
        assert await app_conn.fetchval(generated, *args) == await app_conn.fetchval(original, *args)
