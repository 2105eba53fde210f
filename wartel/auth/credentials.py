"""Sessions (cookie, with CSRF token) and bearer API tokens. Only hashes of secrets are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.passwords import verify_password
from wartel.auth.principal import Principal
from wartel.errors import Unprocessable

SESSION_COOKIE = "wartel_session"
TOKEN_PREFIX = "wtl_"


def _digest(secret: str) -> bytes:
    # Tokens are 256-bit random values, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(secret.encode()).digest()




def _principal(row: asyncpg.Record, via: str, csrf: str | None = None, language: str = "id") -> Principal:
    return Principal(user_id=row["id"], username=row["username"], role=row["role"],
                     facility_id=row["scope_facility_id"], region_id=row["scope_region_id"], via=via,
                     csrf_token=csrf, language=language)


async def principal_from_session(conn: asyncpg.Connection, token: str) -> Principal | None:
    row = await conn.fetchrow(
        # The account's choice is the language (one home, so a switch on one tablet reaches every session);
        # a user who never chose reads Bahasa Indonesia, whatever the browser asks for.
        "SELECT u.id, u.username, u.role, u.scope_facility_id, u.scope_region_id, s.csrf_token,"
        " coalesce(u.language, 'id') AS language FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = $1 AND s.expires_at > now() AND u.active",
        _digest(token),
    )
    return _principal(row, "session", row["csrf_token"], row["language"]) if row else None


async def principal_from_token(conn: asyncpg.Connection, token: str) -> Principal | None:
    # One round trip, and a write only when last_used_at is a minute stale: recording every use would
    # turn each authenticated read into a committed write.
    row = await conn.fetchrow(
        """WITH found AS (
                SELECT t.id AS token_id, t.last_used_at, u.id, u.username, u.role, u.scope_facility_id, u.scope_region_id
                  FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND u.active AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > now())),
            touched AS (
                UPDATE api_tokens t SET last_used_at = now() FROM found f
                 WHERE t.id = f.token_id
                   AND (f.last_used_at IS NULL OR f.last_used_at < now() - interval '1 minute'))
            SELECT * FROM found""",
        _digest(token),
    )
    return _principal(row, "token") if row else None


class LoginThrottled(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed logins")
        self.retry_after_s = retry_after_s


async def check_password(conn: asyncpg.Connection, username: str, password: str, *, remote: str | None,
                         max_failures: int, window_s: int) -> asyncpg.Record | None:
    """The user row when the password is right. Throttles per username after repeated failures."""
    username = username.strip().lower()
    failures = await conn.fetchval(
        "SELECT count(*) FROM login_attempts WHERE username = $1 AND NOT succeeded "
        "AND at > now() - make_interval(secs => $2) "
        "AND at > coalesce((SELECT max(at) FROM login_attempts WHERE username = $1 AND succeeded), '-infinity')",
        username, window_s,
    )
    if failures >= max_failures:
        raise LoginThrottled(window_s)
    row = await conn.fetchrow(
        "SELECT u.id, u.username, u.role, u.scope_facility_id, u.scope_region_id, u.password_hash FROM users u WHERE u.username = $1 AND u.active", username)
    ok = verify_password(row["password_hash"] if row else None, password)
    await conn.execute("INSERT INTO login_attempts (username, remote, succeeded) VALUES ($1, $2, $3)",
                       username, remote, ok)
    return row if ok else None


async def create_session(conn: asyncpg.Connection, user_id: int, ttl_s: int, language: str = "id",
                         request_id: str | None = None) -> tuple[str, str]:
    """A fresh session id (never reuses one the client brought: no fixation) and its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, language, expires_at) VALUES ($1, $2, $3, $4, $5)",
            _digest(token), user_id, csrf, language, datetime.now(UTC) + timedelta(seconds=ttl_s))
        await append(conn, LogRef.national(), action="auth.login", subject_type="user", subject_id=user_id,
                     actor=Actor(type="user", id=str(user_id), request_id=request_id))
    return token, csrf


async def end_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_hash = $1", _digest(token))


async def set_session_language(conn: asyncpg.Connection, token: str, language: str) -> None:
    await conn.execute("UPDATE sessions SET language = $2 WHERE token_hash = $1", _digest(token), language)


async def create_api_token(conn: asyncpg.Connection, user_id: int, name: str, *, actor: Actor,
                           expires_at: datetime | None = None) -> tuple[int, str]:
    """Returns (id, token). The token is shown once; only its hash is kept. An expiry must lie ahead (by the
    database's clock): a token born expired is a mistake, not a token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with conn.transaction():
        token_id = await conn.fetchval(
            "INSERT INTO api_tokens (user_id, name, token_hash, expires_at) SELECT $1, $2, $3, $4"
            " WHERE $4::timestamptz IS NULL OR $4::timestamptz > now() RETURNING id",
            user_id, name, _digest(token), expires_at)
        if token_id is None:
            raise Unprocessable("expires_at must lie in the future", code="token_expiry_past", field="expires_at")
        await append(conn, LogRef.national(), action="auth.token_created", subject_type="api_token",
                     subject_id=token_id, payload={"user_id": user_id}, actor=actor)
    return token_id, token


async def revoke_api_token(conn: asyncpg.Connection, token_id: int, *, actor: Actor) -> bool:
    async with conn.transaction():
        done = await conn.fetchval(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING true", token_id)
        if done:
            await append(conn, LogRef.national(), action="auth.token_revoked", subject_type="api_token",
                         subject_id=token_id, actor=actor)
    return bool(done)
