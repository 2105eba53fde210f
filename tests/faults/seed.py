"""Seed data for fault scenarios, written through the owner connection of a cluster."""

from __future__ import annotations

import asyncpg

from audit import Actor
from tests.factory import Factory
from wartel.auth.credentials import create_api_token


async def token_for(conn: asyncpg.Connection, user_id: int, name: str = "faults") -> str:
    async with conn.transaction():
        _, token = await create_api_token(conn, user_id, name, actor=Actor.system("faults"))
    return token


async def admin_token(conn: asyncpg.Connection) -> str:
    return await token_for(conn, await Factory(conn).user("admin"))
