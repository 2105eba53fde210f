"""`wartel serve` with WARTEL_WORKERS: several processes answer on one port, and go when their parent goes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.faults.cluster import ROOT, free_port


def _listening_pids(port: int) -> set[int]:
    """Processes holding a listening TCP socket on ``port`` (from /proc: sockets by inode, then fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            pids.add(int(fd_dir.parent.name))
    return pids


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "wartel.cli", "serve"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


async def test_two_workers_share_the_port_and_leave_with_a_killed_parent(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
    env.update({"WARTEL_DATABASE_URL": database.app_dsn, "WARTEL_MIGRATE_DATABASE_URL": database.owner_dsn,
                "WARTEL_DATA_DIR": str(tmp_path), "WARTEL_DEMO": "false", "WARTEL_SCHEDULER": "false",
                "WARTEL_LOG_FORMAT": "json", "WARTEL_PORT": str(port), "WARTEL_HOST": "127.0.0.1",
                "WARTEL_WORKERS": "2"})
    log_path = tmp_path / "service.log"
    proc = _spawn(env, log_path)
    try:
        deadline = time.monotonic() + 60
        while len(_listening_pids(port)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            await asyncio.sleep(0.2)
        listeners = _listening_pids(port)
        assert proc.pid in listeners and len(listeners) == 2
        # Every new connection is answered, whichever process the kernel hands it to.
        for _ in range(20):
            async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as r:
                assert r.status == 200, await r.text()
        # /metrics adds up both processes' counts, whichever one answers (asked on several connections).
        for _ in range(4):
            async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
                text = await r.text()
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                          if line.startswith("wartel_http_requests_total{") and 'route="/readyz"' in line)
            assert counted == 20, text[:2000]

        os.kill(proc.pid, signal.SIGKILL)  # no goodbye: the worker must notice by itself
        proc.wait()
        deadline = time.monotonic() + 10
        while _listening_pids(port):
            assert time.monotonic() < deadline, f"an orphaned worker still holds the port: {_listening_pids(port)}"
            await asyncio.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _listening_pids(port):
            os.kill(pid, signal.SIGKILL)
