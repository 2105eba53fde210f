"""What a client sees while a Patroni failover is under way (docs/operations.md), on a real PostgreSQL.

Two moments of a failover, reproduced on the test server: no primary yet (a multi-host DSN with
``target_session_attrs=read-write`` finds only standbys; here, a DSN asking for a standby of a server that
is a primary), and a pooled connection to a primary that has just been demoted (its transactions are
read-only; here, the database's default). Both must answer 503 problem+json with ``Retry-After`` and write
nothing, never 500.
"""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import Factory
from tests.faults.seed import token_for
from wartel.app import create_app
from wartel.config import Settings
from wartel.db import DatabaseTarget


def _with_attrs(dsn: str, attrs: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}target_session_attrs={attrs}"


async def _assert_unavailable(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status == 503, await r.text()
    assert r.content_type == "application/problem+json", await r.text()
    assert r.headers.get("Retry-After"), r.headers
    assert (await r.json())["code"] == "database_unavailable"


async def test_no_primary_yet_answers_503_with_retry_after(
    settings: Settings, database: DatabaseTarget, owner_conn: asyncpg.Connection
) -> None:
    token = await token_for(owner_conn, await Factory(owner_conn).user("admin"))
    tokens_before = await owner_conn.fetchval("SELECT count(*) FROM api_tokens")
    # No connection at start-up: a service started during a failover must come up and answer 503.
    target = DatabaseTarget(app_dsn=_with_attrs(database.app_dsn, "standby"), owner_dsn=database.owner_dsn)
    app = create_app(settings.model_copy(update={"db_pool_min": 0}), target=target, migrate=False)
    async with TestClient(TestServer(app)) as c:
        r = await c.post(
            "/api/v1/auth/tokens",
            json={"name": "during failover"},
            headers={"Authorization": f"Bearer {token}"},
        )
        await _assert_unavailable(r)
        ready = await c.get("/readyz")
        assert ready.status == 503 and ready.headers.get("Retry-After"), await ready.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM api_tokens") == tokens_before


async def test_a_demoted_primary_answers_503_and_writes_nothing(
    settings: Settings, database: DatabaseTarget, owner_conn: asyncpg.Connection
) -> None:
    token = await token_for(owner_conn, await Factory(owner_conn).user("admin"))
    tokens_before = await owner_conn.fetchval("SELECT count(*) FROM api_tokens")
    name = await owner_conn.fetchval("SELECT current_database()")
    # New sessions of this database now behave like sessions on a standby: every write is refused.
    await owner_conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    app = create_app(settings, target=database, migrate=False)
    async with TestClient(TestServer(app)) as c:
        for _ in range(3):  # the dropped connection is replaced; each attempt is refused the same way
            r = await c.post(
                "/api/v1/auth/tokens",
                json={"name": "on a standby"},
                headers={"Authorization": f"Bearer {token}"},
            )
            await _assert_unavailable(r)
    assert await owner_conn.fetchval("SELECT count(*) FROM api_tokens") == tokens_before


async def test_readyz_and_metrics_say_when_commits_are_not_replicated(
    settings: Settings, database: DatabaseTarget
) -> None:
    # The test server has no standby: on a Patroni cluster that is the state after losing both standbys.
    app = create_app(
        settings.model_copy(update={"expect_synchronous_replication": True}), target=database, migrate=False
    )
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/readyz")
        assert r.status == 200, await r.text()
        body = await r.json()
        assert body["synchronous_replication"] is False and body["degraded"] is True, body
        metrics = await (await c.get("/metrics")).text()
        assert "wartel_db_synchronous_replication 0.0" in metrics, metrics[-2000:]


async def test_a_single_server_is_not_degraded_unless_replication_is_expected(
    settings: Settings, database: DatabaseTarget
) -> None:
    app = create_app(settings, target=database, migrate=False)
    async with TestClient(TestServer(app)) as c:
        body = await (await c.get("/readyz")).json()
        assert body["ready"] is True and body["degraded"] is False, body


def test_a_multi_host_dsn_is_split_per_host_keeping_user_database_and_attributes() -> None:
    from wartel.db import split_hosts

    dsn = "postgresql://wartel_app@10.0.0.11:5432,10.0.0.12:5432/wartel?target_session_attrs=read-write"
    assert split_hosts(dsn) == [
        "postgresql://wartel_app@10.0.0.11:5432/wartel?target_session_attrs=read-write",
        "postgresql://wartel_app@10.0.0.12:5432/wartel?target_session_attrs=read-write",
    ]
    assert split_hosts("postgresql://u@h:1/db?host=/tmp/s") == ["postgresql://u@h:1/db?host=/tmp/s"]


async def test_a_frozen_first_host_costs_its_own_budget_not_the_whole_connect() -> None:
    import socket
    import time

    from wartel.db import CONNECT_TIMEOUT_PER_HOST_S, connect_host_by_host

    # A frozen server: the kernel completes the TCP handshake (listen backlog) and nothing ever answers.
    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: refused at once
    try:
        hosts = f"127.0.0.1:{frozen.getsockname()[1]},127.0.0.1:{closed.getsockname()[1]}"
        started = time.monotonic()
        try:
            await connect_host_by_host(f"postgresql://u@{hosts}/db?target_session_attrs=read-write")
        except (OSError, TimeoutError):
            pass
        else:
            raise AssertionError("connected to nothing")
        # Both hosts were tried, in about one host's budget (asyncpg alone would wait 60 s on the first).
        assert time.monotonic() - started < CONNECT_TIMEOUT_PER_HOST_S + 2
    finally:
        frozen.close()
        closed.close()
