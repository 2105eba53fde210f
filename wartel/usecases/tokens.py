"""API tokens: a user revokes their own; an admin any."""

from __future__ import annotations

import asyncpg

from audit import Actor
from wartel.auth import credentials
from wartel.errors import NotFound
from wartel.scope import Scope


async def revoke_token(conn: asyncpg.Connection, scope: Scope, token_id: int, *, actor: Actor) -> None:
    """Revoke a token of the caller's (any, for an admin); someone else's is 404 ``token_not_found``."""
    owner = await conn.fetchval("SELECT user_id FROM api_tokens WHERE id = $1", token_id)
    if owner is None or (owner != scope.user_id and not scope.is_national):
        raise NotFound("token not found", code="token_not_found", field="token_id")
    await credentials.revoke_api_token(conn, token_id, actor=actor)
