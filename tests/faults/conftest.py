"""Fixtures for fault scenarios: a private cluster per test, seeded through the owner connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.faults.cluster import Cluster, cli
from tests.faults.load import audit_consistent


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    c = Cluster(request.node.name.replace("test_", "")[:20])
    try:
        await c.start_db()
        yield c
    finally:
        c.close()


async def verify_audit(cluster: Cluster) -> tuple[bool, str]:
    """``wartel audit verify`` when the command exists; the structural check always, and both must pass."""
    conn = await cluster.owner()
    try:
        structural_ok, detail = await audit_consistent(conn)
    finally:
        await conn.close()
    result = cli(cluster, "audit", "verify", "--quiet")
    if result.returncode != 0 and ("invalid choice" in result.stderr or "KeyError: 'audit verify'" in result.stderr):
        return structural_ok, f"structural check only (no `wartel audit verify` yet): {detail}"
    ok = result.returncode == 0 and structural_ok
    # stderr carries the embedded server's start-up chatter; the verdict is on stdout.
    tail = (result.stdout.strip() or result.stderr.strip()).splitlines()[-3:]
    return ok, f"wartel audit verify exit {result.returncode}: {' | '.join(tail)}; structural: {detail}"
