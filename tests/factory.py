"""Test data, made through the owner connection, and clients logged in as a given user."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from audit import Actor
from wartel.auth.credentials import create_api_token
from wartel.auth.passwords import hash_password

PASSWORD = "correct horse battery"
_HASH: str | None = None
_seq = itertools.count(1)


def _password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run
    return _HASH


@dataclass
class As:
    """A client acting as one user via a bearer token: ``await as_officer.get(url)``."""

    client: TestClient
    token: str
    user_id: int

    def _headers(self, kw: dict[str, Any]) -> dict[str, Any]:
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {self.token}")
        kw["headers"] = headers
        return kw

    def get(self, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.get(url, **self._headers(kw))

    def post(self, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.post(url, **self._headers(kw))

    def put(self, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.put(url, **self._headers(kw))

    def patch(self, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.patch(url, **self._headers(kw))

    def delete(self, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.delete(url, **self._headers(kw))

    def request(self, method: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.request(method, url, **self._headers(kw))


class Factory:
    def __init__(self, conn: asyncpg.Connection, client: TestClient | None = None) -> None:
        self.conn = conn
        self.client = client

    async def region(self, code: str | None = None, name: str = "Kanwil Uji") -> int:
        code = code or f"R{next(_seq)}"
        return await self.conn.fetchval("INSERT INTO regions (code, name) VALUES ($1, $2) RETURNING id", code, name)

    async def facility(self, region_id: int | None = None, *, time_zone: str = "Asia/Jakarta",
                       code: str | None = None, slot_minutes: int = 15, kind: str = "lapas",
                       hours: bool = True, family_contact_cap: int = 10) -> int:
        region_id = region_id or await self.region()
        code = code or f"F{next(_seq)}"
        fid = await self.conn.fetchval(
            "INSERT INTO facilities (region_id, code, name, kind, class, time_zone, slot_minutes, family_contact_cap)"
            " VALUES ($1, $2, $3, $4, 'IIA', $5, $6, $7) RETURNING id",
            region_id, code, f"Lapas {code}", kind, time_zone, slot_minutes, family_contact_cap)
        if hours:
            for weekday in range(1, 8):
                await self.opening_hours(fid, weekday, time(8, 0), time(16, 0))
        return fid

    async def opening_hours(self, facility_id: int, weekday: int, opens: time, closes: time) -> None:
        await self.conn.execute(
            "INSERT INTO opening_hours (facility_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)",
            facility_id, weekday, opens, closes)

    async def booth(self, facility_id: int, kind: str = "phone", name: str | None = None) -> int:
        return await self.conn.fetchval(
            "INSERT INTO booths (facility_id, name, kind) VALUES ($1, $2, $3) RETURNING booth_id",
            facility_id, name or f"Booth {next(_seq)}", kind)

    async def inmate(self, facility_id: int, *, risk_level: str = "medium", status: str = "active",
                     name: str | None = None, admitted_on: date = date(2025, 1, 6)) -> int:
        n = next(_seq)
        return await self.conn.fetchval(
            "INSERT INTO inmates (registration_no, full_name, block, risk_level, status, admitted_on, released_on,"
            " current_facility_id) VALUES ($1, $2, 'A', $3, $4, $5, $6, $7) RETURNING id",
            f"REG-{n:06d}", name or f"Warga Binaan {n}", risk_level, status, admitted_on,
            date(2026, 1, 1) if status == "released" else None, facility_id)

    async def contact(self, inmate_id: int, phone: str | None = None, *, verified: bool = True,
                      relation: str = "spouse", verifier_id: int | None = None) -> int:
        phone = phone or f"+6281{next(_seq):08d}"
        verifier_id = verifier_id or await self._system_user()
        return await self.conn.fetchval(
            "INSERT INTO contacts (inmate_id, phone_e164, name, relation, is_legal_counsel, status,"
            " verification_method, verified_by, verified_at)"
            " VALUES ($1, $2, 'Keluarga', $3, $4, $5, $6, $7, CASE WHEN $5 = 'verified' THEN now() END)"
            " RETURNING id",
            inmate_id, phone, relation, relation == "legal_counsel", "verified" if verified else "pending",
            "ktp" if verified else None, verifier_id if verified else None)

    async def _system_user(self) -> int:
        existing = await self.conn.fetchval("SELECT id FROM users WHERE username = 'factory-admin'")
        if existing:
            return existing
        return await self.user("admin", username="factory-admin")

    async def user(self, role: str, *, facility_id: int | None = None, region_id: int | None = None,
                   username: str | None = None, phone: str | None = None) -> int:
        username = username or f"{role}{next(_seq)}"
        return await self.conn.fetchval(
            "INSERT INTO users (username, full_name, password_hash, role, scope_facility_id, scope_region_id,"
            " phone_e164) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            username, f"Petugas {username}", _password_hash(), role, facility_id, region_id, phone)

    async def login(self, user_id: int) -> As:
        """A client acting as this user through a bearer token."""
        assert self.client is not None
        async with self.conn.transaction():
            _, token = await create_api_token(self.conn, user_id, "test", actor=Actor.system("test"))
        return As(self.client, token, user_id)

    async def as_role(self, role: str, *, facility_id: int | None = None, region_id: int | None = None) -> As:
        return await self.login(await self.user(role, facility_id=facility_id, region_id=region_id))
