"""Users and their roles: an officer belongs to one facility, security to a facility or a region."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from wartel.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class UserInput:
    username: str
    full_name: str
    role: str
    password: str
    facility_code: str | None = None
    region_code: str | None = None
    phone_e164: str | None = None


async def create_user(conn: asyncpg.Connection, user: UserInput, *, actor: Actor | None = None) -> int:
    if len(user.password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password",
                           code="password_too_short")
    facility_id = region_id = None
    if user.facility_code:
        facility_id = await conn.fetchval("SELECT id FROM facilities WHERE code = $1", user.facility_code)
        if facility_id is None:
            raise NotFound(f"no facility {user.facility_code}", code="facility_not_found", field="facility")
    if user.region_code:
        region_id = await conn.fetchval("SELECT id FROM regions WHERE code = $1", user.region_code)
        if region_id is None:
            raise NotFound(f"no region {user.region_code}", code="region_not_found", field="region")
    async with conn.transaction():
        try:
            user_id = await conn.fetchval(
                "INSERT INTO users (username, full_name, password_hash, role, scope_facility_id, scope_region_id,"
                " phone_e164) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                user.username.lower(), user.full_name, hash_password(user.password), user.role, facility_id,
                region_id, user.phone_e164)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"username {user.username} is taken", code="username_taken", field="username") from exc
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name == "user_scope_matches_role":
                raise InvalidInput(
                    "scope does not fit the role: officer needs a facility, regional a region, security one of "
                    "them, admin neither", code="scope_mismatch", field="role") from exc
            raise InvalidInput(str(exc), code=exc.constraint_name or "invalid_input", field="username") from exc
        await append(conn, LogRef.national(), action="user.created", subject_type="user", subject_id=user_id,
                     payload={"role": user.role, "facility_id": facility_id, "region_id": region_id},
                     actor=actor or Actor.system("cli"))
    return user_id
