"""Absence is evidence: a log that must exist and is missing, emptied or shortened fails, naming the log."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from audit import Actor, LogRef, append
from audit.verify import verify_database
from tests.factory import Factory
from tests.test_audit_cli import _wartel

ACTOR = Actor.system("test")


async def _facility_with_entries(owner: asyncpg.Connection, code: str, n: int = 5) -> int:
    facility = await Factory(owner).facility(code=code, hours=False)
    for i in range(n):
        async with owner.transaction():
            await append(
                owner,
                LogRef.facility(facility),
                action="booking.created",
                subject_type="booking",
                subject_id=i,
                actor=ACTOR,
            )
    return facility


async def _wipe(owner: asyncpg.Connection, facility: int, *, drop_row: bool = True) -> None:
    """As a superuser with triggers off: the facility's entries, checkpoints and (``drop_row``) log row go."""
    async with owner.transaction():
        await owner.execute("SET LOCAL session_replication_role = replica")
        log_id = await owner.fetchval(
            "SELECT log_id FROM audit.logs WHERE scope = 'facility' AND scope_id = $1", facility
        )
        await owner.execute("DELETE FROM audit.entries WHERE log_id = $1", log_id)
        await owner.execute("DELETE FROM audit.checkpoints WHERE log_id = $1", log_id)
        await owner.execute("DELETE FROM audit.verifications WHERE log_id = $1", log_id)
        if drop_row:
            await owner.execute("DELETE FROM audit.logs WHERE log_id = $1", log_id)
        else:
            await owner.execute("UPDATE audit.logs SET size = 0 WHERE log_id = $1", log_id)


async def test_every_scope_has_a_log_from_the_moment_it_exists(owner_conn, app_conn) -> None:
    region = await Factory(owner_conn).region(code="KW-ABS")
    facility = await Factory(owner_conn).facility(region_id=region, code="LP-ABS", hours=False)
    names = {
        f"{r['scope']}:{r['scope_id']}"
        for r in await app_conn.fetch("SELECT scope, scope_id FROM audit.logs")
    }
    assert {"national:0", f"region:{region}", f"facility:{facility}"} <= names
    assert all(r.ok for r in await verify_database(app_conn, store=False))


async def test_a_wiped_facility_log_fails_per_facility_and_all_at_once(
    database, owner_conn, tmp_path: Path
) -> None:
    """Issue 14's case: entries, checkpoints and log row deleted; the nightly per-facility check with the
    regional office's export, the same without it, and the check of every log all fail naming the facility."""
    facility = await _facility_with_entries(owner_conn, "LP-WIPE")
    code, out, err = await _wartel(database, tmp_path, "audit", "checkpoint")
    assert code == 0, (out, err)
    code, out, err = await _wartel(
        database, tmp_path, "audit", "export", "--checkpoints-only", "-o", str(tmp_path / "kanwil.json")
    )
    assert code == 0, err
    await _wipe(owner_conn, facility)

    export = ("--checkpoints", str(tmp_path / "kanwil.json"))
    for args in (("--facility", "LP-WIPE", *export), ("--facility", "LP-WIPE"), export, ()):
        code, out, err = await _wartel(database, tmp_path, "audit", "verify", *args)
        assert code == 1 and "FAILED  LP-WIPE" in out and "missing" in out, (args, out, err)
        assert "all 0 logs verified" not in out
    code, out, err = await _wartel(database, tmp_path, "audit", "verify", "--facility", "LP-WIPE", *export)
    assert "first bad seq 1" in out, out  # the export says the log had 5 entries


async def test_a_facility_removed_from_the_registry_with_its_log_is_named_by_the_export(
    database, owner_conn, tmp_path: Path
) -> None:
    facility = await _facility_with_entries(owner_conn, "LP-GONE")
    await _wartel(database, tmp_path, "audit", "checkpoint")
    await _wartel(
        database, tmp_path, "audit", "export", "--checkpoints-only", "-o", str(tmp_path / "kanwil.json")
    )
    await _wipe(owner_conn, facility)
    async with owner_conn.transaction():
        await owner_conn.execute("SET LOCAL session_replication_role = replica")
        await owner_conn.execute("DELETE FROM facilities WHERE id = $1", facility)
    code, out, err = await _wartel(
        database,
        tmp_path,
        "audit",
        "verify",
        "--facility",
        "LP-GONE",
        "--checkpoints",
        str(tmp_path / "kanwil.json"),
    )
    assert code == 1 and "FAILED  LP-GONE" in out and "first bad seq 1" in out, (out, err)


async def test_an_emptied_log_fails_against_the_export(database, owner_conn, tmp_path: Path) -> None:
    """The log row stays, its size set back to 0: the regional office's export still says it had entries."""
    facility = await _facility_with_entries(owner_conn, "LP-EMPTY")
    await _wartel(database, tmp_path, "audit", "checkpoint")
    await _wartel(
        database, tmp_path, "audit", "export", "--checkpoints-only", "-o", str(tmp_path / "kanwil.json")
    )
    await _wipe(owner_conn, facility, drop_row=False)
    code, out, err = await _wartel(
        database,
        tmp_path,
        "audit",
        "verify",
        "--facility",
        "LP-EMPTY",
        "--checkpoints",
        str(tmp_path / "kanwil.json"),
    )
    assert code == 1 and "FAILED  LP-EMPTY" in out and "first bad seq 1" in out, (out, err)


async def test_a_missing_region_or_national_log_fails(owner_conn, app_conn) -> None:
    region = await Factory(owner_conn).region(code="KW-MISS")
    async with owner_conn.transaction():
        await owner_conn.execute("SET LOCAL session_replication_role = replica")
        await owner_conn.execute(
            "DELETE FROM audit.logs WHERE (scope, scope_id) IN (('region', $1), ('national', 0))", region
        )
    results = {r.log_name: r for r in await verify_database(app_conn, store=False)}
    for name in (f"region:{region}", "national:0"):
        assert not results[name].ok and "missing" in results[name].problem, results[name].summary()
