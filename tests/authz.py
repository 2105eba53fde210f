"""The authorisation matrix's vocabulary: a :class:`Case` per endpoint, and the fixture :class:`World`.

Case modules are ``tests/authz_cases_<area>.py``; each exports ``CASES: list[Case]`` and may export
``async def extend_world(world) -> None`` (to add placeholders to ``world.scopes['own'|'foreign']``) and
``FRESH: dict[str, FreshMaker]`` (placeholders made anew before every request, for cases that consume
their subject, e.g. releasing an inmate).

Principals: an officer and a security officer of facility A, regional security and the regional office
of region R1 (which holds A), and the national admin. "Own" scope is A / R1; "foreign" is facility B in
region R2. The admin has no foreign scope: for the admin both columns expect success.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal

from tests.factory import As, Factory

PRINCIPALS = ("officer", "security_facility", "security_region", "regional", "admin")
ROLE_OF = {"officer": "officer", "security_facility": "security", "security_region": "security",
           "regional": "regional", "admin": "admin"}
EVERYONE = frozenset({"officer", "security", "regional", "admin"})
OK = "ok"  # success (2xx or 3xx): allowed, and the case's request is a valid one
SAME = "same"  # foreign scope expects what own scope expects (the endpoint is not scoped)

Expect = int | Literal["ok", "same"]


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # with {placeholders}; a query string may carry them too
    roles: frozenset[str]  # the roles (officer, security, regional, admin) that may call it
    body: Any = None  # JSON (strings "{name}" are replaced by the raw value), or a str sent as is
    content_type: str | None = None  # for str bodies
    own: Expect = OK
    foreign: Expect = 404
    forbidden: int = 403
    fresh: tuple[str, ...] = ()  # placeholders made anew before each request

    @property
    def key(self) -> str:
        return f"{self.method} {self.path.split('?')[0]}"


FreshMaker = Callable[["World", str, str], Awaitable[Any]]  # (world, scope, principal) -> value
_unique = itertools.count(1)
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


@dataclass
class World:
    factory: Factory
    clients: dict[str, As] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    scopes: dict[str, dict[str, Any]] = field(default_factory=lambda: {"own": {}, "foreign": {}})
    fresh_makers: dict[str, FreshMaker] = field(default_factory=dict)

    async def values(self, case: Case, scope: str, principal: str) -> dict[str, Any]:
        n = next(_unique)
        values = {**self.scopes[scope], "unique": f"U{n:06d}", "unique_code": f"AZ{n:06d}",
                  "unique_phone": f"+62812{n:08d}", "unique_name": f"u{n:06d}", "username": self.usernames[principal],
                  "user_id": self.user_ids[principal]}
        for name in case.fresh:
            values[name] = await self.fresh_makers[name](self, scope, principal)
        return values


def fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        m = _PLACEHOLDER.match(value)
        if m:
            return values[m.group(1)]
        return value.format_map(values) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


async def _fresh_inmate(world: World, scope: str, principal: str) -> int:
    return await world.factory.inmate(world.scopes[scope]["facility_id"])


async def _fresh_contact(world: World, scope: str, principal: str) -> int:
    inmate = await world.factory.inmate(world.scopes[scope]["facility_id"])
    return await world.factory.contact(inmate, verified=False)


async def _fresh_closure(world: World, scope: str, principal: str) -> int:
    # A month ahead, past every booking window: the world outlives the case, and a closure from now to
    # tomorrow closed the next Monday's slot the booking cases use whenever the matrix ran on a Sunday.
    return await world.factory.conn.fetchval(
        "INSERT INTO closures (facility_id, during, reason)"
        " VALUES ($1, tstzrange(now() + interval '30 days', now() + interval '31 days'), 'uji') RETURNING closure_id",
        world.scopes[scope]["facility_id"])


async def _fresh_token(world: World, scope: str, principal: str) -> int:
    """Own: a second token of the caller; foreign: a token of a user in the foreign facility."""
    from audit import Actor
    from wartel.auth.credentials import create_api_token

    owner = world.user_ids[principal] if scope == "own" else world.scopes["foreign"]["stranger_user_id"]
    async with world.factory.conn.transaction():
        token_id, _ = await create_api_token(world.factory.conn, owner, "matrix", actor=Actor.system("test"))
    return token_id


async def build_world(factory: Factory) -> World:
    world = World(factory)
    r1, r2 = await factory.region(), await factory.region()
    a = await factory.facility(r1, hours=False)
    b = await factory.facility(r2, hours=False)
    for fid in (a, b):
        await factory.opening_hours(fid, 1, time(8), time(12))
    scopes = {"own": (r1, a), "foreign": (r2, b)}
    for scope, (region_id, facility_id) in scopes.items():
        inmate = await factory.inmate(facility_id)
        world.scopes[scope].update({
            "region_id": region_id, "facility_id": facility_id,
            "facility_code": await factory.conn.fetchval("SELECT code FROM facilities WHERE id = $1", facility_id),
            "booth_id": await factory.booth(facility_id, "phone"),
            "inmate_id": inmate,
            "contact_id": await factory.contact(inmate, verified=True),
            # A destination for transfers: exists, and lies outside both scopes' facilities.
            "other_facility_id": await factory.facility(r2, hours=False),
        })
    world.scopes["foreign"]["stranger_user_id"] = await factory.user("officer", facility_id=b)
    scoping = {"officer": {"facility_id": a}, "security_facility": {"facility_id": a},
               "security_region": {"region_id": r1}, "regional": {"region_id": r1}, "admin": {}}
    for principal in PRINCIPALS:
        username = f"mx-{principal.replace('_', '-')}-{next(_unique)}"
        user_id = await factory.user(ROLE_OF[principal], username=username, **scoping[principal])
        world.usernames[principal], world.user_ids[principal] = username, user_id
        world.clients[principal] = await factory.login(user_id)
    world.fresh_makers.update({"inmate_id": _fresh_inmate, "contact_id": _fresh_contact,
                               "closure_id": _fresh_closure, "token_id": _fresh_token})
    return world
