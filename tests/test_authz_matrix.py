"""Every role over every endpoint, own scope and foreign scope.

Cases live in ``tests/authz_cases_<area>.py`` (see ``tests/authz.py``). Every endpoint mounted on the
app must have a case; endpoints of areas that have not written theirs yet are listed by name in
:data:`ENDPOINTS_AWAITING_CASES`, which each area shrinks as it adds its cases.

All cases share one database and one world (a database per case costs more than the requests): a case
that consumes its subject (release, revoke, delete) names it in ``fresh`` and gets a new one per request.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.authz import OK, PRINCIPALS, ROLE_OF, SAME, Case, World, build_world, fill
from tests.conftest import _app_dsn
from tests.factory import Factory
from wartel.config import Settings
from wartel.db import DatabaseTarget, _with_database, connect

HERE = Path(__file__).resolve().parent

# Mounted endpoints with no case yet ("METHOD /path" as mounted). Remove a line when you add its case:
# the coverage test fails for a listed endpoint that has a case, or that is no longer mounted.
ENDPOINTS_AWAITING_CASES: frozenset[str] = frozenset({
})


def _case_modules() -> list[ModuleType]:
    return [importlib.import_module(f"tests.{p.stem}") for p in sorted(HERE.glob("authz_cases_*.py"))]


MODULES = _case_modules()
CASES: list[tuple[str, Case]] = [(m.__name__.rsplit("_", 1)[-1], c) for m in MODULES for c in m.CASES]


@pytest.fixture(scope="module")
async def world(pg_server: str, template_db: str, tmp_path_factory) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    from wartel.app import create_app

    name = f"wartel_mx_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_database(pg_server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    target = DatabaseTarget(app_dsn=_app_dsn(pg_server, name), owner_dsn=_with_database(pg_server, name))
    tmp = tmp_path_factory.mktemp("matrix")
    settings = Settings(data_dir=tmp, scheduler=False, demo=False, db_pool_min=1, db_pool_max=4,
                        secret_key_file=tmp / "secret.key", signing_key_file=tmp / "signing.key")
    conn = await connect(target.owner_dsn)
    try:
        async with TestClient(TestServer(create_app(settings, target=target, migrate=False))) as client:
            world = await build_world(Factory(conn, client))
            for module in MODULES:
                world.fresh_makers.update(getattr(module, "FRESH", {}))
                extend = getattr(module, "extend_world", None)
                if extend is not None:
                    await extend(world)
            yield world
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _expected(case: Case, principal: str, scope: str) -> int | str:
    if ROLE_OF[principal] not in case.roles:
        return case.forbidden
    if scope == "own" or principal == "admin" or case.foreign == SAME:
        return case.own
    return case.foreign


def _meets(status: int, expected: int | str) -> bool:
    if expected == OK:
        return status < 400
    return status == expected


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[f"{area}:{c.method} {c.path}" for area, c in CASES])
async def test_role_and_scope(case: Case, world: World) -> None:
    failures: list[str] = []
    for principal in PRINCIPALS:
        for scope in ("own", "foreign"):
            values = await world.values(case, scope, principal)
            path = fill(case.path, values)
            kwargs: dict = {}
            if isinstance(case.body, str):
                kwargs["data"] = fill(case.body, values).encode()
                kwargs["headers"] = {"Content-Type": case.content_type or "text/plain"}
            elif case.body is not None:
                kwargs["json"] = fill(case.body, values)
            r = await world.clients[principal].request(case.method, path, **kwargs)
            expected = _expected(case, principal, scope)
            if not _meets(r.status, expected):
                failures.append(f"{principal:18} {scope:8} expected {expected}, got {r.status}: {(await r.text())[:200]}")
            else:
                await r.read()
    assert not failures, f"{case.method} {case.path}\n" + "\n".join(failures)


def test_every_mounted_endpoint_has_a_case(settings) -> None:  # type: ignore[no-untyped-def]
    from wartel import keys
    from wartel.app import create_app

    mounted = {f"{ep.method} {ep.path}" for ep in create_app(settings, migrate=False)[keys.ENDPOINTS]}
    covered = {c.key for _, c in CASES}
    missing = mounted - covered - ENDPOINTS_AWAITING_CASES
    assert not missing, f"endpoints with no authorisation case (add them to tests/authz_cases_<area>.py): {sorted(missing)}"
    stale = ENDPOINTS_AWAITING_CASES & covered
    assert not stale, f"remove from ENDPOINTS_AWAITING_CASES, they have cases now: {sorted(stale)}"
    gone = ENDPOINTS_AWAITING_CASES - mounted
    assert not gone, f"remove from ENDPOINTS_AWAITING_CASES, no longer mounted: {sorted(gone)}"
    unknown = covered - mounted
    assert not unknown, f"cases for endpoints that are not mounted: {sorted(unknown)}"
