"""A database of its own with nothing in it, for tests that apply migrations themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from wartel.db import _with_database, connect


@asynccontextmanager
async def empty_database(pg_server: str, name: str) -> AsyncIterator[asyncpg.Connection]:
    """An owner connection to a new, empty database ``name``, dropped afterwards."""
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await connect(_with_database(pg_server, name))
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
