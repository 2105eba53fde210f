"""What the caller may see and do: one :class:`Scope` per request, built from the principal.

Both faces (the JSON API and the pages) build it once per request and hand it to the use cases and
domain functions, so a visibility or role rule is written here once and the two faces cannot answer the
same act differently. The role sets below are the only place that says who may book, sanction, review
flags, block numbers or set policy; endpoint tables and page decorators read them from here.

Visibility: an admin sees the country, facility staff their facility, regional staff (security of a
region, the regional office) every facility of their region. Anything outside the scope reads as "not
found", with the same code as a thing that does not exist (we never say which).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import asyncpg

from audit import LogRef
from wartel.auth.principal import Principal
from wartel.errors import Forbidden, NotFound


class Act(StrEnum):
    """The kinds of act whose role set is a rule of the service."""

    READ = "read"  # see the registry, bookings and calls in scope
    OPERATE = "operate"  # put a booth in or out of service, add a closure (anyone on duty)
    REVOKE_CONTACT = "revoke_contact"  # withdraw a contact (security may, to stop a number at once)
    REGISTER = "register"  # inmates and contacts: register, change, import, transfer, release, verify, reject
    BOOK = "book"  # book, cancel, reschedule; check in, start and end calls; booth devices
    SANCTION = "sanction"  # suspend or reduce an inmate's family calls, lift a sanction
    REVIEW = "review"  # detection flags (read and review), link analysis
    BLOCK = "block"  # add or remove watchlist entries (block or watch a number or prefix)
    AUDIT = "audit"  # search the audit logs and their checkpoints
    SET_POLICY = (
        "set_policy"  # call-rights policies, facility settings, opening hours, booths, rule parameters
    )
    MANAGE_USERS = "manage_users"  # create users (admins any; the regional office its region's staff)
    REPORT = "report"  # regional compliance reports
    ARCHIVE = "archive"  # the stored monthly reports
    ORGANISE = "organise"  # create regions and facilities (the national administration)
    PROTECT_DATA = "protect_data"  # erase a person's data, set retention (the data-protection officer's acts)


EVERYONE: frozenset[str] = frozenset({"officer", "security", "regional", "admin"})

# Decisions (docs/architecture.md, "Roles and scope"): sanctions are a security (Kamtib) decision, not the
# booking officer's; the regional office reviews flags and manages its region's watchlist as regional
# security does; officers never see flags (the officer-integrity rules are about them).
ROLES: Mapping[Act, frozenset[str]] = {
    Act.READ: EVERYONE,
    Act.OPERATE: EVERYONE,
    Act.REVOKE_CONTACT: EVERYONE,
    Act.REGISTER: frozenset({"officer", "regional", "admin"}),
    Act.BOOK: frozenset({"officer", "security", "admin"}),
    Act.SANCTION: frozenset({"security", "admin"}),
    Act.REVIEW: frozenset({"security", "regional", "admin"}),
    Act.BLOCK: frozenset({"security", "regional", "admin"}),
    Act.AUDIT: frozenset({"security", "regional", "admin"}),
    Act.SET_POLICY: frozenset({"regional", "admin"}),
    Act.MANAGE_USERS: frozenset({"regional", "admin"}),
    Act.REPORT: frozenset({"security", "regional", "admin"}),
    Act.ARCHIVE: frozenset({"regional", "admin"}),
    Act.ORGANISE: frozenset({"admin"}),
    # Issue 21: the data-protection officer works at the regional office (for its region) or nationally.
    Act.PROTECT_DATA: frozenset({"regional", "admin"}),
}


def roles(act: Act) -> tuple[str, ...]:
    """The roles that may perform ``act``, sorted (for endpoint tables and page decorators)."""
    return tuple(sorted(ROLES[act]))


WatchScope = Literal["facility", "region", "national"]


@dataclass(frozen=True)
class Scope:
    """The caller and what they see: ``facility_ids`` is ``None`` for the whole country."""

    principal: Principal
    facility_ids: list[int] | None

    @property
    def user_id(self) -> int:
        return self.principal.user_id

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def is_national(self) -> bool:
        return self.facility_ids is None

    @property
    def own_facility_id(self) -> int | None:
        """The facility a facility-scoped user works at; ``None`` for regional and national users."""
        return self.principal.facility_id

    @property
    def own_region_id(self) -> int | None:
        """The region of a region-scoped user; ``None`` for facility staff and admins."""
        return self.principal.region_id if self.principal.facility_id is None else None

    def may(self, act: Act) -> bool:
        return self.principal.role in ROLES[act]

    def require(self, act: Act) -> None:
        """Raise :class:`Forbidden` (403 ``forbidden_role``) unless the caller's role may perform ``act``."""
        if not self.may(act):
            raise Forbidden(f"the {self.principal.role} role may not do this", code="forbidden_role")

    def sees(self, facility_id: int | None) -> bool:
        """Whether an existing facility lies in scope (existence is the caller's to check)."""
        return facility_id is not None and (self.facility_ids is None or facility_id in self.facility_ids)

    async def require_facility(self, conn: asyncpg.Connection, facility_id: int) -> None:
        """A facility that does not exist and one outside the scope give the same 404."""
        exists = self.facility_ids is not None or await conn.fetchval(
            "SELECT true FROM facilities WHERE id = $1", facility_id
        )
        if not exists or not self.sees(facility_id):
            raise NotFound(
                f"facility {facility_id} not found", code="facility_not_found", field="facility_id"
            )

    async def require_region(self, conn: asyncpg.Connection, region_id: int) -> None:
        """A region the caller manages: admins any, regional staff their own; otherwise 404."""
        mine = self.principal.role == "admin" or self.own_region_id == region_id
        if not mine or not await conn.fetchval("SELECT true FROM regions WHERE id = $1", region_id):
            raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")

    async def require_inmate(
        self, conn: asyncpg.Connection, inmate_id: int, *, field: str = "inmate_id"
    ) -> int:
        """The inmate's current facility. Missing and out of scope are one answer: 404 ``inmate_not_found``."""
        facility_id = await conn.fetchval("SELECT current_facility_id FROM inmates WHERE id = $1", inmate_id)
        if not self.sees(facility_id):
            raise NotFound(f"inmate {inmate_id} not found", code="inmate_not_found", field=field)
        return facility_id

    def flag_scope(self) -> tuple[list[int] | None, list[int] | None]:
        """(facility_ids, region_ids) of the detection flags in view; (None, None) for the whole country.

        Flags are regional objects: facility staff see those involving their facility, regional staff their
        region's."""
        if self.is_national:
            return None, None
        if self.own_facility_id is not None:
            return [self.own_facility_id], []
        return [], [self.own_region_id] if self.own_region_id is not None else []

    async def require_region_readable(self, conn: asyncpg.Connection, region_id: int) -> None:
        """A region whose figures the caller may read: regional staff their own, facility staff the region of
        their facility, admins any; otherwise 404 ``region_not_found``."""
        if self.own_facility_id is not None and await self.home_region_id(conn) == region_id:
            return
        await self.require_region(conn, region_id)

    async def region_ids_in_view(self, conn: asyncpg.Connection) -> list[int] | None:
        """The regions of the facilities in view, and the caller's own; ``None`` for the whole country."""
        if self.facility_ids is None:
            return None
        rows = await conn.fetch(
            "SELECT DISTINCT region_id FROM facilities WHERE id = ANY($1::bigint[])", self.facility_ids
        )
        regions = {r["region_id"] for r in rows}
        if self.own_region_id is not None:
            regions.add(self.own_region_id)
        return sorted(regions)

    def visible_logs(self) -> list[LogRef] | None:
        """The audit logs in view: every facility's in scope, and a regional user's region log; ``None`` for
        all of them (admins, who alone also read the national log)."""
        if self.facility_ids is None:
            return None
        logs = [LogRef.facility(f) for f in self.facility_ids]
        if self.own_region_id is not None:
            logs.append(LogRef.region(self.own_region_id))
        return logs

    async def sees_log(self, conn: asyncpg.Connection, log: LogRef) -> bool:
        """Whether one audit log (which may not exist yet) is in view."""
        if log.scope == "facility":
            if self.facility_ids is None:
                return bool(await conn.fetchval("SELECT true FROM facilities WHERE id = $1", log.scope_id))
            return self.sees(log.scope_id)
        if log.scope == "region":
            mine = self.is_national or self.own_region_id == log.scope_id
            return mine and bool(await conn.fetchval("SELECT true FROM regions WHERE id = $1", log.scope_id))
        return self.is_national

    async def narrowed_flag_scope(
        self, conn: asyncpg.Connection, facility_id: int | None, region_id: int | None
    ) -> tuple[list[int] | None, list[int] | None]:
        """:meth:`flag_scope` narrowed to one facility or region on request (404 if outside the scope)."""
        if facility_id is not None:
            await self.require_facility(conn, facility_id)
            return [facility_id], []
        if region_id is not None:
            await self.require_region_readable(conn, region_id)
            if self.own_facility_id is not None:
                return [
                    self.own_facility_id
                ], []  # facility staff see their own facility's part of the region
            return [], [region_id]
        return self.flag_scope()

    async def home_region_id(self, conn: asyncpg.Connection) -> int | None:
        """The region the caller works in (a facility user's facility's region); ``None`` for admins."""
        if self.is_national:
            return None
        if self.own_facility_id is not None:
            return await conn.fetchval("SELECT region_id FROM facilities WHERE id = $1", self.own_facility_id)
        return self.own_region_id

    async def watch_scope(self, conn: asyncpg.Connection) -> tuple[list[int] | None, int | None]:
        """(facility_ids, region_id) whose watchlist entries apply in view (national ones always do)."""
        return self.facility_ids, await self.home_region_id(conn)

    def manages_watchlist(self, scope: WatchScope, scope_id: int) -> bool:
        """Whose list an entry may be added to or removed from: admins every list, regional staff their
        region's and its facilities', facility staff their facility's."""
        if self.is_national:
            return True
        if scope == "national":
            return False
        if scope == "region":
            return self.own_region_id == scope_id
        return self.sees(scope_id)

    def default_watch_scope(self) -> tuple[WatchScope, int | None]:
        """Where a page's new entry goes: the caller's own list (facility staff: the facility's)."""
        if self.own_facility_id is not None:
            return "facility", self.own_facility_id
        if self.own_region_id is not None:
            return "region", self.own_region_id
        return "national", 0


async def build_scope(conn: asyncpg.Connection, principal: Principal) -> Scope:
    """Once per request: facility staff and admins cost no query, regional staff one."""
    if principal.role == "admin":
        return Scope(principal, None)
    if principal.facility_id is not None:
        return Scope(principal, [principal.facility_id])
    rows = await conn.fetch("SELECT id FROM facilities WHERE region_id = $1 ORDER BY id", principal.region_id)
    return Scope(principal, [r["id"] for r in rows])


# The same rules for domain functions that take the principal itself (registry, reports): one home, here.
async def visible_facility_ids(conn: asyncpg.Connection, principal: Principal) -> list[int] | None:
    """The facilities the principal may see; ``None`` means all of them (admin)."""
    return (await build_scope(conn, principal)).facility_ids


async def require_facility(conn: asyncpg.Connection, principal: Principal, facility_id: int) -> None:
    """Raise :class:`NotFound` for a facility that does not exist or lies outside the principal's scope."""
    await (await build_scope(conn, principal)).require_facility(conn, facility_id)


async def require_region(conn: asyncpg.Connection, principal: Principal, region_id: int) -> None:
    """Raise :class:`NotFound` for a region that does not exist or that the principal does not manage."""
    await Scope(principal, None if principal.role == "admin" else []).require_region(conn, region_id)
