"""Test fixtures: a real PostgreSQL (embedded, or WARTEL_TEST_DATABASE_URL), a fresh database per test.

Each test database is ``CREATE DATABASE … TEMPLATE`` of one migrated per run, so a test costs a file copy,
not a migration run. The service connects to it as its restricted role, exactly as in production.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import Factory
from wartel import migrations
from wartel.config import Settings
from wartel.db import APP_ROLE, DatabaseTarget, _with_database, connect, start_embedded

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = Path(os.environ.get("WARTEL_TEST_DATA_DIR", ROOT / ".wartel-test"))
_APP_PASSWORD = "wartel-app-test"


# The browser journeys run unless the user opts out explicitly; then they are deselected and the summary says
# so, instead of each being skipped (a skip reads as a pass). A missing Chromium fails them (browser/conftest).
SKIP_BROWSER = os.environ.get("WARTEL_SKIP_BROWSER") == "1"
_SKIPPED_BROWSER = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SKIP_BROWSER:
        return
    browser = [i for i in items if i.get_closest_marker("browser")]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [i for i in items if not i.get_closest_marker("browser")]
        config.stash[_SKIPPED_BROWSER] = len(browser)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    skipped = config.stash.get(_SKIPPED_BROWSER, 0)
    if skipped:
        terminalreporter.write_line(f"WARTEL_SKIP_BROWSER=1: {skipped} browser journeys NOT run", yellow=True, bold=True)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """Superuser DSN of the test server (any database name; we pick our own)."""
    url = os.environ.get("WARTEL_TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded(TEST_DATA_DIR)


@pytest.fixture(scope="session")
async def template_db(pg_server: str) -> AsyncIterator[str]:
    name = f"wartel_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    if not os.environ.get("WARTEL_TEST_DATABASE_URL"):
        # The embedded test cluster is disposable: skipping disk flushes halves the cost of each test's
        # CREATE DATABASE (a checkpoint). Still safe against a killed server process, only not an OS crash.
        for setting in ("fsync", "full_page_writes"):
            await admin.execute(f"ALTER SYSTEM SET {setting} = off")
        await admin.execute("SELECT pg_reload_conf()")
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await connect(_with_database(pg_server, name))
    try:
        await migrations.migrate(conn)
        # Over TCP the app role needs a password; on the embedded server's socket it is trusted anyway.
        await conn.execute(f"ALTER ROLE {APP_ROLE} PASSWORD '{_APP_PASSWORD}'")
    finally:
        await conn.close()
    await admin.execute(f'ALTER DATABASE "{name}" WITH is_template = true')
    try:
        yield name
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH is_template = false')
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _app_dsn(server: str, database: str) -> str:
    dsn = _with_database(server, database, user=APP_ROLE)
    if "@" in dsn and "//" in dsn:
        scheme, rest = dsn.split("//", 1)
        user, host = rest.split("@", 1)
        dsn = f"{scheme}//{user}:{_APP_PASSWORD}@{host}"
    return dsn


@pytest.fixture
async def database(pg_server: str, template_db: str) -> AsyncIterator[DatabaseTarget]:
    """A fresh, migrated database for this test only."""
    name = f"wartel_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}" STRATEGY FILE_COPY')
    except asyncpg.PostgresSyntaxError:  # PostgreSQL 14 and older have no STRATEGY; we support 15+, but be kind
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield DatabaseTarget(app_dsn=_app_dsn(pg_server, name), owner_dsn=_with_database(pg_server, name))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def owner_conn(database: DatabaseTarget) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the schema owner (superuser on the embedded server): for test setup and tampering."""
    conn = await connect(database.owner_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def app_conn(database: DatabaseTarget) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the service's restricted role."""
    conn = await connect(database.app_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, scheduler=False, demo=False, db_pool_min=1, db_pool_max=8,
                    log_format="console", secret_key_file=tmp_path / "secret.key",
                    signing_key_file=tmp_path / "signing.key")


@pytest.fixture
async def client(settings: Settings, database: DatabaseTarget) -> AsyncIterator[TestClient]:
    from wartel.app import create_app

    app = create_app(settings, target=database, migrate=False)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.fixture
async def factory(owner_conn: asyncpg.Connection, client: TestClient) -> Factory:
    return Factory(owner_conn, client)
