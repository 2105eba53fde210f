"""The page face's authorisation matrix: every page route and form action, every role, own and foreign scope.

The same principals and world as the API's matrix (``tests/authz.py``, with every area's placeholders), but
each principal logged in through the login page with its own cookie session, posting forms with the
session's CSRF token. Expectations use the same role sets as the API for the same act (``wartel.scope``
decides once; the expectations here are written out, so a change of the role table shows in both
matrices). A page route with no case fails :func:`test_every_page_route_has_a_case`, and so does a form
action of an ``{action}`` route with no case.

"own" is facility A / region R1, "foreign" facility B / region R2; the admin expects success in both. A
refusal for the role is 403, a subject outside the scope 404, the same answers as the API's.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.authz import EVERYONE, OK, PRINCIPALS, ROLE_OF, SAME, World, build_world, fill
from tests.conftest import _app_dsn
from tests.factory import PASSWORD, Factory
from tests.pages_helpers import hidden_fields
from tests.test_authz_matrix import MODULES
from wartel.config import Settings
from wartel.db import DatabaseTarget, _with_database, connect

BOOKERS = frozenset({"officer", "security", "admin"})
REGISTRARS = frozenset({"officer", "regional", "admin"})
SANCTIONERS = frozenset({"security", "admin"})
REVIEWERS = frozenset({"security", "regional", "admin"})
POLICY = frozenset({"regional", "admin"})
ARCHIVE = frozenset({"regional", "admin"})

_n = itertools.count(1)


@dataclass(frozen=True)
class PageCase:
    method: str
    path: str  # with {placeholders}
    roles: frozenset[str]
    form: dict[str, str] | None = None  # posted as a form, with the session's csrf_token added
    own: Any = OK
    foreign: Any = 404
    foreign_for: tuple[tuple[str, Any], ...] = ()  # per-principal exceptions to ``foreign``
    fresh: tuple[str, ...] = ()
    new_session: bool = False  # the request ends its session (logout): log in anew for it


FACILITY_Q = "?facility_id={facility_id}"
INMATE = "/officer/inmates/{pg_inmate}"
FLAG = "/security/flags/{flag_id}"
_NEW_PERSON = ("pg_inmate", "pg_contact")
_SLOT = {"inmate_id": "{bk_inmate}", "contact_id": "{bk_contact}", "slot": "{bk_booth}|{monday_slot}"}

CASES: list[PageCase] = [
    # The session pages: anyone logged in; nothing is scoped.
    PageCase("GET", "/", EVERYONE, foreign=SAME),
    PageCase("GET", "/login", EVERYONE, foreign=SAME),
    # A login form posted without the login page's token is refused whoever sends it (the token is the
    # form's own CSRF guard, not a role rule).
    PageCase(
        "POST", "/login", EVERYONE, form={"username": "{username}", "password": "x"}, own=403, foreign=SAME
    ),
    PageCase("POST", "/language", EVERYONE, form={"language": "id", "next": "/"}, foreign=SAME),
    PageCase("POST", "/logout", EVERYONE, form={}, foreign=SAME, new_session=True),
    # The API reference: public, as the OpenAPI document it reads.
    PageCase("GET", "/api/docs", EVERYONE, foreign=SAME),
    # The officer's day: board, booking form, booking actions.
    PageCase("GET", "/officer" + FACILITY_Q, BOOKERS),
    PageCase("GET", "/officer/book" + FACILITY_Q, BOOKERS),
    PageCase(
        "POST",
        "/officer/book" + FACILITY_Q,
        BOOKERS,
        form=_SLOT,
        fresh=("bk_booth", "bk_inmate", "bk_contact"),
    ),
    PageCase(
        "POST",
        "/officer/bookings/{booking_id}/check-in" + FACILITY_Q,
        BOOKERS,
        form={},
        fresh=("booking_id",),
    ),
    PageCase(
        "POST",
        "/officer/bookings/{booking_id}/start" + FACILITY_Q,
        BOOKERS,
        form={},
        fresh=("want_checked_in", "booking_id"),
    ),
    PageCase(
        "POST",
        "/officer/bookings/{booking_id}/end" + FACILITY_Q,
        BOOKERS,
        form={"outcome": "completed"},
        fresh=("want_in_call", "booking_id"),
    ),
    PageCase(
        "POST",
        "/officer/bookings/{booking_id}/cancel" + FACILITY_Q,
        BOOKERS,
        form={"reason": "facility"},
        fresh=("booking_id",),
    ),
    # Inmates: everyone reads; registrars register; security revokes; sanctions are security's.
    PageCase("GET", "/officer/inmates" + FACILITY_Q, EVERYONE),
    PageCase(
        "POST",
        "/officer/inmates" + FACILITY_Q,
        REGISTRARS,
        form={"registration_no": "PG-{unique}", "full_name": "Uji Halaman", "admitted_on": "2026-01-02"},
    ),
    PageCase("GET", "/officer/inmates/{inmate_id}", EVERYONE),
    PageCase(
        "POST",
        INMATE + "/contacts",
        REGISTRARS,
        fresh=("pg_inmate",),
        form={"name": "Siti", "phone": "{unique_phone}", "relation": "spouse"},
    ),
    PageCase(
        "POST",
        INMATE + "/verify",
        REGISTRARS,
        fresh=_NEW_PERSON,
        form={"contact_id": "{pg_contact}", "method": "ktp"},
    ),
    PageCase(
        "POST",
        INMATE + "/reject",
        REGISTRARS,
        fresh=_NEW_PERSON,
        form={"contact_id": "{pg_contact}", "reason": "palsu"},
    ),
    PageCase(
        "POST",
        INMATE + "/revoke",
        EVERYONE,
        fresh=("pg_inmate", "pg_verified"),
        form={"contact_id": "{pg_verified}", "reason": "ancaman"},
    ),
    PageCase(
        "POST",
        INMATE + "/sanctions",
        SANCTIONERS,
        fresh=("pg_inmate",),
        form={
            "kind": "suspend",
            "starts_at": "2030-01-01T08:00",
            "ends_at": "2030-01-08T08:00",
            "reason": "ponsel",
        },
    ),
    PageCase(
        "POST",
        "/officer/inmates/{inmate_id}/lift",
        SANCTIONERS,
        fresh=("sanction_id",),
        form={"sanction_id": "{sanction_id}", "reason": "banding"},
    ),
    # Security: flags, links, audit, watchlist (officers never see flags).
    PageCase("GET", "/security", REVIEWERS, foreign=SAME),
    PageCase("GET", "/security/flags", REVIEWERS, foreign=SAME),
    PageCase("GET", FLAG, REVIEWERS),
    PageCase("POST", FLAG + "/acknowledge", REVIEWERS, form={}, fresh=("flag_id",)),
    PageCase(
        "POST",
        FLAG + "/confirm",
        REVIEWERS,
        form={"reason": "terbukti", "watch": "blocked"},
        fresh=("flag_id",),
    ),
    PageCase("POST", FLAG + "/dismiss", REVIEWERS, form={"reason": "keluarga"}, fresh=("flag_id",)),
    PageCase(
        "POST",
        FLAG + "/reopen?closed={dismissed}",
        REVIEWERS,
        form={"reason": "bukti baru"},
        fresh=("flag_id", "dismissed"),
    ),
    PageCase("GET", "/security/links?inmate_id={inmate_id}", REVIEWERS),
    PageCase("GET", "/security/access?inmate_id={inmate_id}", REVIEWERS),
    PageCase("GET", "/security/audit", REVIEWERS, foreign=SAME),
    PageCase("GET", "/security/watchlist", REVIEWERS, foreign=SAME),
    # A new entry goes on the caller's own list: nothing foreign to name.
    PageCase(
        "POST",
        "/security/watchlist",
        REVIEWERS,
        foreign=SAME,
        form={"pattern_kind": "number", "pattern": "{unique_phone}", "mode": "watched", "reason": "uji"},
    ),
    PageCase("POST", "/security/watchlist", REVIEWERS, form={"remove": "{entry_id}"}, fresh=("entry_id",)),
    # The regional office: dashboard, reports, archive, policies. Facility security is sent on to /reports.
    PageCase("GET", "/regional?region_id={region_id}", REVIEWERS, foreign_for=(("security_facility", OK),)),
    PageCase("GET", "/reports?region_id={region_id}", REVIEWERS, foreign_for=(("security_facility", OK),)),
    PageCase("GET", "/reports/compliance?period=month&month=2026-01&scope=f:{facility_id}", REVIEWERS),
    PageCase("GET", "/reports/monthly/{region_id}/{month}", ARCHIVE),
    PageCase("GET", "/regional/policies?region_id={region_id}", POLICY),
    PageCase("GET", "/regional/privacy?region_id={region_id}", POLICY),
    PageCase(
        "POST",
        "/regional/privacy/retention",
        POLICY,
        form={"region_id": "{region_id}", "released_family_years": "2", "unverified_contact_days": "90"},
    ),
    PageCase(
        "POST",
        "/regional/policies",
        POLICY,
        form={
            "region_id": "{region_id}",
            "target": "region",
            "allowance": "family",
            "period": "week",
            "calls_allowed": "4",
            "max_minutes": "15",
            "min_lead_minutes": "0",
            "max_days_ahead": "14",
            "cancel_cutoff_minutes": "0",
            "booth_kinds": "phone",
            "note": "uji",
        },
    ),
]


async def _pg_inmate(world: World, scope: str, principal: str) -> int:
    inmate = await world.factory.inmate(world.scopes[scope]["facility_id"])
    world.scopes[scope]["_pg_inmate"] = inmate
    return inmate


async def _pg_contact(world: World, scope: str, principal: str) -> int:
    return await world.factory.contact(
        world.scopes[scope]["_pg_inmate"], f"+62813{next(_n):08d}", verified=False
    )


async def _pg_verified(world: World, scope: str, principal: str) -> int:
    return await world.factory.contact(
        world.scopes[scope]["_pg_inmate"], f"+62814{next(_n):08d}", verified=True
    )


PAGE_FRESH = {"pg_inmate": _pg_inmate, "pg_contact": _pg_contact, "pg_verified": _pg_verified}


@dataclass
class PageWorld:
    world: World
    client: TestClient
    sessions: dict[str, tuple[aiohttp.ClientSession, str]]

    async def login(self, principal: str) -> tuple[aiohttp.ClientSession, str]:
        """A cookie session logged in through the login page, and its CSRF token."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        url = self.client.make_url
        async with session.get(url("/login")) as r:
            token = hidden_fields(await r.text())["login_token"]
        async with session.post(
            url("/login"),
            allow_redirects=False,
            data={
                "username": self.world.usernames[principal],
                "password": PASSWORD,
                "login_token": token,
                "language": "id",
                "next": "/login",
            },
        ) as r:
            assert r.status == 303, await r.text()
        async with session.get(url("/login?next=/officer/inmates/0"), allow_redirects=False) as r:
            await r.read()
        async with session.get(url("/security/audit?days=1")) as r:  # any page with a form carries the token
            csrf = hidden_fields(await r.text()).get("csrf_token")
        if csrf is None:
            async with session.get(url(f"/officer/inmates/{self.world.scopes['own']['inmate_id']}")) as r:
                csrf = hidden_fields(await r.text())["csrf_token"]
        return session, csrf


@pytest.fixture(scope="module")
async def pages(pg_server: str, template_db: str, tmp_path_factory) -> AsyncIterator[PageWorld]:  # type: ignore[no-untyped-def]
    from wartel.app import create_app

    name = f"wartel_pg_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    target = DatabaseTarget(app_dsn=_app_dsn(pg_server, name), owner_dsn=_with_database(pg_server, name))
    tmp = tmp_path_factory.mktemp("pages_matrix")
    settings = Settings(
        data_dir=tmp,
        scheduler=False,
        demo=False,
        db_pool_min=1,
        db_pool_max=4,
        secret_key_file=tmp / "secret.key",
        signing_key_file=tmp / "signing.key",
        login_max_failures=1000,
    )
    conn = await connect(target.owner_dsn)
    sessions: dict[str, tuple[aiohttp.ClientSession, str]] = {}
    try:
        async with TestClient(TestServer(create_app(settings, target=target, migrate=False))) as client:
            world = await build_world(Factory(conn, client))
            for module in MODULES:
                world.fresh_makers.update(getattr(module, "FRESH", {}))
                extend = getattr(module, "extend_world", None)
                if extend is not None:
                    await extend(world)
            world.fresh_makers.update(PAGE_FRESH)
            pw = PageWorld(world, client, sessions)
            for principal in PRINCIPALS:
                sessions[principal] = await pw.login(principal)
            yield pw
    finally:
        for session, _ in sessions.values():
            await session.close()
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _expected(case: PageCase, principal: str, scope: str) -> Any:
    if ROLE_OF[principal] not in case.roles:
        return 403
    if scope == "own" or principal == "admin" or case.foreign == SAME:
        return case.own
    return dict(case.foreign_for).get(principal, case.foreign)


def _meets(status: int, location: str, expected: Any) -> bool:
    if expected == OK:
        # Success is a page or a redirect, but not the login page's: that would be a lost session.
        return status < 400 and not location.startswith("/login?next=")
    return status == expected


async def _values(world: World, case: PageCase, scope: str, principal: str) -> dict[str, Any]:
    n = next(_n)
    values = {
        **world.scopes[scope],
        "unique": f"P{n:06d}",
        "unique_phone": f"+62815{n:08d}",
        "username": world.usernames[principal],
        "user_id": world.user_ids[principal],
    }
    for placeholder in case.fresh:
        values[placeholder] = await world.fresh_makers[placeholder](world, scope, principal)
    return values


def _id(case: PageCase) -> str:
    extra = f" {sorted(case.form)[0]}" if case.form and "remove" in case.form else ""
    return f"{case.method} {case.path.split('?')[0]}{extra}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
async def test_page_role_and_scope(case: PageCase, pages: PageWorld) -> None:
    world = pages.world
    failures: list[str] = []
    for principal in PRINCIPALS:
        for scope in ("own", "foreign"):
            values = await _values(world, case, scope, principal)
            session, csrf = await pages.login(principal) if case.new_session else pages.sessions[principal]
            kwargs: dict[str, Any] = {"allow_redirects": False}
            if case.method == "POST":
                kwargs["data"] = {
                    **{k: str(fill(v, values)) for k, v in (case.form or {}).items()},
                    "csrf_token": csrf,
                }
            async with session.request(
                case.method, pages.client.make_url(fill(case.path, values)), **kwargs
            ) as r:
                body = await r.text()
                expected = _expected(case, principal, scope)
                if not _meets(r.status, r.headers.get("Location", ""), expected):
                    failures.append(
                        f"{principal:18} {scope:8} expected {expected}, got {r.status}: "
                        f"{_visible_text(body)[:240]}"
                    )
                elif r.status >= 400:
                    # A refusal on a page is a page in its language, never problem+json.
                    assert r.content_type == "text/html", (
                        f"{principal} {scope}: {r.content_type}: {body[:200]}"
                    )
            if case.new_session:
                await session.close()
    assert not failures, f"{case.method} {case.path}\n" + "\n".join(failures)


def _visible_text(html: str) -> str:
    main = html.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


_NOT_PAGES = ("/api/", "/static", "/healthz", "/readyz", "/metrics")


def test_every_page_route_has_a_case(settings) -> None:  # type: ignore[no-untyped-def]
    from wartel.app import create_app
    from wartel.pages.officer import ACTIONS, INMATE_ACTIONS
    from wartel.pages.security import FLAG_ACTIONS

    app = create_app(settings, migrate=False)
    app.router.freeze()
    mounted = {
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and not route.resource.canonical.startswith(_NOT_PAGES)
    }
    covered: dict[str, set[str]] = {}
    for case in CASES:
        # Placeholder values are numbers, except the archive's month.
        path = re.sub(r"\{\w+\}", "1", case.path.split("?")[0]).replace("/monthly/1/1", "/monthly/1/2026-01")
        key = None
        for resource in app.router.resources():
            info = resource.get_info()
            pattern = info.get("pattern")
            if (pattern is not None and pattern.fullmatch(path)) or info.get("path") == path:
                key = f"{case.method} {resource.canonical}"
                covered.setdefault(key, set()).add(path.rsplit("/", 1)[-1])
                break
        assert key is not None, f"case {case.method} {case.path} matches no mounted route"
    missing = mounted - set(covered)
    assert not missing, f"page routes with no authorisation case (add them to CASES): {sorted(missing)}"
    actions = {
        "POST /officer/bookings/{booking_id}/{action}": set(ACTIONS),
        "POST /officer/inmates/{inmate_id}/{action}": set(INMATE_ACTIONS),
        "POST /security/flags/{flag_id}/{action}": set(FLAG_ACTIONS),
    }
    for route, known in actions.items():
        assert route in mounted, f"{route} is no longer mounted: update this test"
        assert known <= covered[route], (
            f"{route}: form actions with no case: {sorted(known - covered[route])}"
        )


def test_refusals_are_the_same_on_both_faces() -> None:
    """The expectations above use the API matrix's role sets for the same acts."""
    from tests import authz_cases_detection, authz_cases_schedules

    assert BOOKERS == authz_cases_schedules.BOOKERS
    assert SANCTIONERS == authz_cases_schedules.IMPOSERS
    assert POLICY == authz_cases_schedules.POLICY
    assert REVIEWERS == authz_cases_detection.REVIEWERS
