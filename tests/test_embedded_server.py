"""The embedded PostgreSQL is sized for the machine it serves, once, at its first start."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from wartel.db import _with_database, embedded_server_settings, start_embedded, stop_embedded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A new directory the embedded server's own user can enter.

    Not pytest's tmp_path: as root the embedded server runs as its own user, which cannot enter pytest's
    private /tmp/pytest-of-root (mode 0700). The checkout is where the test server lives too."""
    base = ROOT / ".wartel-test-tmp"
    base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="sizing-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_new_embedded_server_gets_its_sizing_and_keeps_it_across_restarts(server_dir: Path) -> None:
    tmp_path = server_dir
    wanted = embedded_server_settings()
    assert int(wanted["shared_buffers"].removesuffix("MB")) >= 128
    dsn = start_embedded(tmp_path)
    try:
        conn = await asyncpg.connect(_with_database(dsn, "postgres"))
        try:
            assert await conn.fetchval("SHOW shared_buffers") == _pg_size(wanted["shared_buffers"])
            started = await conn.fetchval("SELECT pg_postmaster_start_time()")
        finally:
            await conn.close()
        start_embedded(tmp_path)  # already sized and running: no second restart
        conn = await asyncpg.connect(_with_database(dsn, "postgres"))
        try:
            assert await conn.fetchval("SELECT pg_postmaster_start_time()") == started
        finally:
            await conn.close()
        assert (tmp_path / "pg" / "postgresql.conf").read_text().count("wartel: embedded server sizing") == 1
    finally:
        stop_embedded(tmp_path)


def _pg_size(mb: str) -> str:
    """PostgreSQL shows 2048MB as 2GB."""
    n = int(mb.removesuffix("MB"))
    return f"{n // 1024}GB" if n % 1024 == 0 else f"{n}MB"
