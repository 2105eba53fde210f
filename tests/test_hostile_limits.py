"""Hand-made hostile requests against every endpoint that takes a body: malformed, oversized, slow, odd bytes.

Each is refused with a 4xx problem+json naming what is wrong, never a 500, and writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import Factory
from tests.faults.probe import WriteProbe, is_problem
from wartel import keys

_PARAM = re.compile(r"{\w+}")


@pytest.fixture
async def tight_client(settings, database) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    from wartel.app import create_app

    tight = settings.model_copy(update={"request_timeout_s": 1.0, "max_body_bytes": 4096,
                                        "max_upload_bytes": 65536})
    app = create_app(tight, target=database, migrate=False)
    async with TestClient(TestServer(app)) as c:
        yield c


async def _body_endpoints(client: TestClient) -> list[tuple[str, str, tuple[int, ...]]]:
    """(method, path, statuses an admin may get before the body is looked at: device-only or role-limited)."""
    out = []
    for ep in client.server.app[keys.ENDPOINTS]:
        if ep.body is None:
            continue
        gate: tuple[int, ...] = ()
        if ep.auth == "device":
            gate = (401,)
        elif ep.roles is not None and "admin" not in ep.roles:
            gate = (403,)
        fields = ep.path_model.model_fields if ep.path_model else {}
        if any(f.annotation is not int for f in fields.values()):
            gate += (422,)  # "1" is not a valid value of a textual path parameter: refused before the body
        out.append((ep.method, _PARAM.sub("1", ep.path), gate))
    return out


async def _assert_refused(r, probe: WriteProbe, before, status: int | tuple[int, ...], label: str) -> dict:  # type: ignore[no-untyped-def]
    body = await r.read()
    statuses = (status,) if isinstance(status, int) else status
    assert r.status in statuses, f"{label}: {r.status} {body[:300]!r}"
    wrong = is_problem(r.status, r.headers.get("Content-Type", ""), body)
    assert wrong is None, f"{label}: {wrong}"
    changed = WriteProbe.changed(before, await probe.snapshot())
    assert not changed, f"{label} wrote to {changed}"
    return json.loads(body)


async def test_malformed_bodies_are_refused_everywhere(tight_client, owner_conn) -> None:  # type: ignore[no-untyped-def]
    factory = Factory(owner_conn, tight_client)
    admin = await factory.as_role("admin")
    probe = WriteProbe(owner_conn)
    endpoints = await _body_endpoints(tight_client)
    assert endpoints
    auth = {"Authorization": f"Bearer {admin.token}"}
    for method, path, gate in endpoints:
        before = await probe.snapshot()
        cases = [
            ("invalid JSON", b'{"a": ', "application/json", (400,)),
            ("JSON array", b"[1, 2, 3]", "application/json", (400, 422)),
            ("wrong media type", b"a=1", "text/plain", (415,)),
            ("too large for JSON", json.dumps({"x": "a" * 5000}).encode(), "application/json", (413,)),
            ("deep nesting", b"[" * 2000 + b"]" * 2000, "application/json", (400, 422)),
            ("not UTF-8", b'{"name": "\xff\xfe"}', "application/json", (400, 422)),
        ]
        for label, data, ctype, statuses in cases:
            r = await tight_client.request(method, path, data=data, headers={**auth, "Content-Type": ctype})
            await _assert_refused(r, probe, before, statuses + gate, f"{method} {path} {label}")


async def test_nul_bytes_and_huge_numbers_are_input_errors_not_500s(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    admin = await factory.as_role("admin")
    probe = WriteProbe(owner_conn)
    before = await probe.snapshot()
    # PostgreSQL cannot store U+0000 in text; the service must say so, not crash.
    r = await admin.post("/api/v1/auth/tokens", json={"name": "a\u0000b"})
    await _assert_refused(r, probe, before, (400, 422), "NUL in a string")
    r = await client.post("/api/v1/auth/login", json={"username": "x\u0000y", "password": "p"})
    assert r.status in (400, 401, 422), await r.text()
    assert is_problem(r.status, r.headers["Content-Type"], await r.read()) is None
    before = await probe.snapshot()
    r = await admin.delete(f"/api/v1/auth/tokens/{2**70}")
    await _assert_refused(r, probe, before, (404, 422), "id beyond bigint")


async def test_declared_oversize_upload_is_refused_before_reading(tight_client) -> None:  # type: ignore[no-untyped-def]
    host, port = tight_client.server.host, tight_client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 999999999\r\n\r\n{")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), timeout=5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"application/problem+json" in head


async def test_chunked_body_over_the_limit_is_413(tight_client) -> None:  # type: ignore[no-untyped-def]
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"a" * 1024

    r = await tight_client.post("/api/v1/auth/login", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status == 413, await r.text()
    assert r.content_type == "application/problem+json"


async def test_a_slow_body_is_cut_off_with_408(tight_client) -> None:  # type: ignore[no-untyped-def]
    host, port = tight_client.server.host, tight_client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"user")
    await writer.drain()
    head = b""
    try:
        for _ in range(30):  # keep dribbling one byte every 0.2 s; the server must not wait for us
            writer.write(b" ")
            await writer.drain()
            try:
                head = await asyncio.wait_for(reader.read(4096), timeout=0.2)
            except TimeoutError:
                continue
            break
    except ConnectionError:
        pass
    finally:
        writer.close()
    elapsed = time.monotonic() - started
    assert head.startswith(b"HTTP/1.1 408"), head[:200]
    assert b"body_timeout" in head
    assert elapsed < 4, elapsed


async def test_slow_bodies_do_not_hold_the_server(tight_client) -> None:  # type: ignore[no-untyped-def]
    """While 30 slow clients dribble bodies, a normal request is answered at once."""
    host, port = tight_client.server.host, tight_client.server.port
    writers = []
    for _ in range(30):
        _, w = await asyncio.open_connection(host, port)
        w.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{")
        await w.drain()
        writers.append(w)
    started = time.monotonic()
    r = await tight_client.get("/healthz")
    assert r.status == 200
    assert time.monotonic() - started < 0.5
    for w in writers:
        w.close()


async def test_uploads_over_the_upload_limit_are_413_and_write_nothing(tight_client, owner_conn) -> None:  # type: ignore[no-untyped-def]
    factory = Factory(owner_conn, tight_client)
    admin = await factory.as_role("admin")
    probe = WriteProbe(owner_conn)
    before = await probe.snapshot()
    header = b"registration_no,full_name,block,risk_level,admitted_on,facility_code\n"
    big = header + b"REG-1,Nama,A,low,2025-01-01,F1\n" * 4000  # well over the 64 KiB upload limit
    r = await admin.post("/api/v1/inmates/import", data=big, headers={"Content-Type": "text/csv"})
    await _assert_refused(r, probe, before, 413, "declared oversized CSV")

    async def chunks() -> AsyncIterator[bytes]:
        yield header
        for _ in range(100):
            yield b"REG-1,Nama,A,low,2025-01-01,F1\n" * 40

    r = await admin.post("/api/v1/inmates/import", data=chunks(), headers={"Content-Type": "text/csv"})
    await _assert_refused(r, probe, before, 413, "chunked oversized CSV")
