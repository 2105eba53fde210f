"""`wartel audit …` as an operator runs it: checkpoint, export, verify online and offline, exit codes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from audit import Actor, LogRef, append
from tests.factory import Factory
from wartel.db import DatabaseTarget

WARTEL = str(Path(sys.executable).with_name("wartel"))


async def _wartel(target: DatabaseTarget, tmp: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "WARTEL_DATABASE_URL": target.app_dsn, "WARTEL_MIGRATE_DATABASE_URL": target.owner_dsn,
           "WARTEL_DATA_DIR": str(tmp), "WARTEL_SIGNING_KEY_FILE": str(tmp / "signing.key")}
    proc = await asyncio.create_subprocess_exec(WARTEL, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_verify_exits_zero_then_names_the_facility_and_first_bad_seq(database, owner_conn, tmp_path) -> None:
    facility = await Factory(owner_conn).facility(code="LP-UJI", hours=False)
    for i in range(5):
        async with owner_conn.transaction():
            await append(owner_conn, LogRef.facility(facility), action="booking.created", subject_type="booking",
                         subject_id=i, actor=Actor.system("test"))

    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 0 and f"facility:{facility} at size 5" in out, (out, err)
    assert (tmp_path / "signing.key").stat().st_mode & 0o777 == 0o600
    code, out, err = await _wartel(database, tmp_path, "audit", "export", "--checkpoints-only",
                                   "-o", str(tmp_path / "kanwil.json"))
    assert code == 0, err
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-UJI",
                                   "--checkpoints", str(tmp_path / "kanwil.json"))
    assert code == 0 and "ok      LP-UJI" in out, (out, err)

    async with owner_conn.transaction():
        await owner_conn.execute("SET LOCAL session_replication_role = replica")
        await owner_conn.execute("DELETE FROM audit.entries WHERE seq = 3 AND log_name = $1", f"facility:{facility}")
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--checkpoints",
                                   str(tmp_path / "kanwil.json"))
    assert code == 1 and "FAILED  LP-UJI" in out and "first bad seq 3" in out, (out, err)

    code, out, err = await _wartel(database, tmp_path, "audit", "export", "-o", str(tmp_path / "all.jsonl"))
    assert code == 0, err
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--offline", str(tmp_path / "all.jsonl"),
                                   "--checkpoints", str(tmp_path / "kanwil.json"))
    assert code == 1 and f"facility:{facility}" in out and "first bad seq 3" in out, (out, err)
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "NOPE")
    assert code == 2 and "NOPE" in err, (out, err)
