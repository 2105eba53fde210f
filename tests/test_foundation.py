"""The foundation: migrations, health, readiness, login, problem+json for bad input."""

from __future__ import annotations

import asyncpg
import pytest

from tests.empty_database import empty_database
from tests.factory import PASSWORD
from wartel import migrations


async def test_all_migrations_apply_to_an_empty_database(pg_server: str) -> None:
    async with empty_database(pg_server, "wartel_empty_check") as conn:
        applied = await migrations.migrate(conn)
        assert [m.version for m in applied] == [m.version for m in migrations.load_migrations()]
        assert await migrations.migrate(conn) == []  # idempotent: nothing left to do


async def test_a_changed_applied_migration_is_refused(owner_conn: asyncpg.Connection) -> None:
    changed = [migrations.Migration(m.version, m.name, m.sql + "\n-- edited") for m in migrations.load_migrations()]
    with pytest.raises(migrations.MigrationError, match="was changed after it was applied"):
        await migrations.migrate(owner_conn, migrations=changed)


async def test_health_and_readiness(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/healthz")
    assert r.status == 200
    r = await client.get("/readyz")
    assert r.status == 200, await r.text()
    assert (await r.json())["migrations_current"] is True
    r = await client.get("/metrics")
    assert r.status == 200
    assert "wartel_http_requests_total" in await r.text()


async def test_login_sets_a_fresh_httponly_session(client, factory) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    await factory.user("officer", facility_id=fid, username="budi")
    r = await client.post("/api/v1/auth/login", json={"username": "budi", "password": "wrong"})
    assert r.status == 401
    assert r.content_type == "application/problem+json"
    r = await client.post("/api/v1/auth/login", json={"username": "budi", "password": PASSWORD})
    assert r.status == 200, await r.text()
    cookie = r.cookies["wartel_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    me = await (await client.get("/api/v1/auth/me")).json()
    assert me["username"] == "budi" and me["role"] == "officer"


async def test_unauthenticated_api_call_is_a_401_problem(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/auth/me")
    assert r.status == 401
    body = await r.json(content_type=None)
    assert body["code"] == "unauthenticated"


async def test_openapi_document_is_valid_3_1(client) -> None:  # type: ignore[no-untyped-def]
    from openapi_spec_validator import validate

    r = await client.get("/api/openapi.json")
    spec = await r.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


async def test_problem_titles_speak_bahasa_by_default_and_english_on_request(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/v1/auth/me")
    assert (await r.json(content_type=None))["title"] == "Silakan masuk terlebih dahulu"
    r = await client.get("/api/v1/auth/me", headers={"Accept-Language": "en"})
    assert (await r.json(content_type=None))["title"] == "Please log in first"
