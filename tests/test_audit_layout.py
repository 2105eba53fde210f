"""Migration 0015 rebuilds the audit table with the columns verification reads first: nothing hashed moves."""

from __future__ import annotations

import asyncpg
import pytest

from audit import Actor, LogRef, append
from audit.verify import verify_database
from tests.empty_database import empty_database
from wartel import migrations

ACTOR = Actor(type="user", id="7", role="officer", request_id="req-layout")


async def test_rebuilding_the_entries_table_keeps_every_hashed_byte(pg_server: str) -> None:
    async with empty_database(pg_server, "wartel_layout_check") as conn:
        every = migrations.load_migrations()
        await migrations.migrate(conn, migrations=[m for m in every if m.version < 15])
        for i in range(1, 41):
            async with conn.transaction():
                await append(conn, LogRef.facility(1 + i % 3), action="call.ended", subject_type="call",
                             subject_id=i, actor=ACTOR,
                             payload={"duration_s": i * 7, "note": "kata \"kutip\" \\ garis\nbaru"})
        before = await conn.fetch("SELECT log_id, seq, canonical, leaf_hash FROM audit.entries ORDER BY 1, 2")

        await migrations.migrate(conn)

        after = await conn.fetch("SELECT log_id, seq, canonical, leaf_hash FROM audit.entries ORDER BY 1, 2")
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        columns = await conn.fetch("SELECT attname FROM pg_attribute WHERE attrelid = 'audit.entries'::regclass "
                                   "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        assert [c["attname"] for c in columns][:5] == ["log_id", "seq", "log_name", "leaf_hash", "canonical"]
        assert all(r.ok for r in await verify_database(conn, store=False)), "the rebuilt log must verify"
        # Still append-only, for the owner too, and appends continue the same sequences.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit.entries SET action = 'x' WHERE seq = 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE audit.entries")
        async with conn.transaction():
            entry = await append(conn, LogRef.facility(1), action="call.ended", subject_type="call",
                                 subject_id=99, actor=ACTOR, payload={})
        assert entry.seq == 1 + sum(1 for r in before if r["log_id"] == entry.log_id)
        grants = await conn.fetchval(
            "SELECT array_agg(privilege_type::text ORDER BY privilege_type) FROM information_schema.role_table_grants "
            "WHERE table_schema = 'audit' AND table_name = 'entries' AND grantee = 'wartel_app'")
        assert grants == ["SELECT"]
