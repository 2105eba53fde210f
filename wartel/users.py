"""Users and their roles: an officer belongs to one facility, security to a facility or a region.

Who may create whom: the administrator creates any user. A regional office creates officer and security
accounts inside its own region (scoped to one of its facilities, or regional security), never another
regional or admin account: a region cannot widen anyone's reach beyond itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from wartel.auth.principal import Principal
from wartel.errors import Conflict, Forbidden, InvalidInput, NotFound
from wartel.i18n import LANGUAGES


@dataclass(frozen=True)
class UserInput:
    username: str
    full_name: str
    role: str
    password: str
    facility_code: str | None = None
    region_code: str | None = None
    phone_e164: str | None = None
    facility_id: int | None = None
    region_id: int | None = None
    password_hash: str | None = None  # already hashed (the demo hashes its few passwords in parallel)


async def create_user(conn: asyncpg.Connection, user: UserInput, *, actor: Actor | None = None) -> int:
    if len(user.password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password",
                           code="password_too_short")
    facility_id, region_id = user.facility_id, user.region_id
    if user.facility_code:
        facility_id = await conn.fetchval("SELECT id FROM facilities WHERE code = $1", user.facility_code)
        if facility_id is None:
            raise NotFound(f"no facility {user.facility_code}", code="facility_not_found", field="facility")
    elif facility_id is not None and not await conn.fetchval("SELECT true FROM facilities WHERE id = $1",
                                                             facility_id):
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    if user.region_code:
        region_id = await conn.fetchval("SELECT id FROM regions WHERE code = $1", user.region_code)
        if region_id is None:
            raise NotFound(f"no region {user.region_code}", code="region_not_found", field="region")
    elif region_id is not None and not await conn.fetchval("SELECT true FROM regions WHERE id = $1", region_id):
        raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")
    async with conn.transaction():
        try:
            user_id = await conn.fetchval(
                "INSERT INTO users (username, full_name, password_hash, role, scope_facility_id, scope_region_id,"
                " phone_e164) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                user.username.lower(), user.full_name, user.password_hash or hash_password(user.password), user.role, facility_id,
                region_id, user.phone_e164)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"username {user.username} is taken", code="username_taken", field="username") from exc
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name == "user_scope_matches_role":
                raise InvalidInput(
                    "scope does not fit the role: officer needs a facility, regional a region, security one of "
                    "them, admin neither", code="scope_mismatch", field="role") from exc
            raise InvalidInput(str(exc), code=exc.constraint_name or "invalid_input", field="username") from exc
        # A user scoped to a region or facility is a regional fact; only admin accounts are national.
        log_region = region_id or (await conn.fetchval("SELECT region_id FROM facilities WHERE id = $1",
                                                       facility_id) if facility_id else None)
        await append(conn, LogRef.region(log_region) if log_region else LogRef.national(), action="user.created",
                     subject_type="user", subject_id=user_id,
                     payload={"role": user.role, "facility_id": facility_id, "region_id": region_id},
                     actor=actor or Actor.system("cli"))
    return user_id


async def set_user_language(conn: asyncpg.Connection, user_id: int, language: str, *, actor: Actor) -> bool:
    """Save ``language`` as the user's choice (it wins over the browser); audited when it changes.

    Returns whether anything changed. The caller's transaction holds the change and its record together.
    """
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", code="validation_failed",
                           field="language")
    row = await conn.fetchrow(
        "UPDATE users u SET language = $2 WHERE u.id = $1 AND u.language IS DISTINCT FROM $2"
        " RETURNING coalesce(u.scope_region_id, (SELECT f.region_id FROM facilities f"
        " WHERE f.id = u.scope_facility_id)) AS region_id", user_id, language)
    if row is None:
        return False
    # The same log as the account's creation: a regional fact, national for administrators.
    await append(conn, LogRef.region(row["region_id"]) if row["region_id"] else LogRef.national(),
                 action="user.language_set", subject_type="user", subject_id=user_id,
                 payload={"language": language}, actor=actor)
    return True


async def check_may_create(conn: asyncpg.Connection, principal: Principal, role: str, facility_id: int | None,
                           region_id: int | None) -> None:
    """Admin: anyone. Regional: officer or security within its own region. Raises otherwise."""
    if principal.role == "admin":
        return
    if principal.role != "regional":
        raise Forbidden("only the administrator or a regional office creates users", code="forbidden_role")
    if role not in ("officer", "security"):
        raise Forbidden("a regional office creates officer and security accounts only",
                        code="role_not_delegable", field="role")
    if facility_id is not None:
        region = await conn.fetchval("SELECT region_id FROM facilities WHERE id = $1", facility_id)
        if region != principal.region_id:
            raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    elif region_id is not None and region_id != principal.region_id:
        raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")


async def list_users(conn: asyncpg.Connection, principal: Principal, *, after_id: int | None = None,
                     limit: int = 100) -> list[asyncpg.Record]:
    """Admin: every user. Regional: users scoped to its region or to one of its facilities."""
    region = None if principal.role == "admin" else principal.region_id
    return await conn.fetch(
        "SELECT u.id, u.username, u.full_name, u.role, u.scope_facility_id, u.scope_region_id, u.active,"
        " u.created_at FROM users u WHERE ($1::bigint IS NULL OR u.scope_region_id = $1"
        " OR u.scope_facility_id IN (SELECT id FROM facilities WHERE region_id = $1))"
        " AND ($2::bigint IS NULL OR u.id > $2) ORDER BY u.id LIMIT $3", region, after_id, limit)
