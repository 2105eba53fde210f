"""The hostile requests issue 15 found by hand, each answered as a user should see it and writing nothing.

Cursors with the wrong content, dates at the edge of the calendar at a WIT (UTC+9) facility, times with and
without offsets, a report over year 1, ``?lang=``, the link view's existence oracle and its redaction, an
admission date in the future. Every refusal is a 4xx problem+json naming the field, and leaves every table
and audit log as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import date, timedelta
from typing import Any

from tests.factory import As, Factory
from tests.faults.probe import WriteProbe, is_problem
from tests.hostile_report import Tally
from tests.pages_helpers import page_login
from wartel import keys


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


class Refusals:
    """Sends a request that must be refused, checks the answer, and counts it."""

    def __init__(self, tally: Tally, probe: WriteProbe) -> None:
        self.tally, self.probe, self.failures = tally, probe, []  # type: list[str]

    async def expect(
        self, who: As, method: str, url: str, status: int, code: str, field: str, **kw: Any
    ) -> dict:
        before = await self.probe.snapshot()
        started = time.monotonic()
        r = await who.request(method, url, **kw)
        body = await r.read()
        elapsed = time.monotonic() - started
        written = WriteProbe.changed(before, await self.probe.snapshot())
        label = f"{method} {url} {kw.get('json', '')}"
        self.tally.answered(label, r.status, elapsed, written=written, budget_s=5.0)
        problem = json.loads(body) if r.content_type == "application/problem+json" else {}
        wrong = is_problem(r.status, r.headers.get("Content-Type", ""), body)
        if (r.status, problem.get("code"), problem.get("field")) != (status, code, field) or wrong or written:
            self.failures.append(
                f"{label}: expected {status} {code} on {field}, got {r.status} {body[:300]!r}"
                f"{' wrote ' + str(written) if written else ''}"
            )
        return problem


async def test_the_cases_issue_15_found_are_refused_precisely(client, factory: Factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    tally = Tally("hostile_cases")
    probe = WriteProbe(owner_conn)
    check = Refusals(tally, probe)
    region = await factory.region()
    wit = await factory.facility(region, time_zone="Asia/Jayapura")
    await factory.booth(wit)
    admin = await factory.as_role("admin")
    regional = await factory.as_role("regional", region_id=region)
    officer = await factory.as_role("officer", facility_id=wit)
    try:
        # Cursors that decode as base64 JSON but are not what the endpoint wrote.
        for bad in (
            ["notadate", 1],
            [{}, "x"],
            ["2026-01-01T00:00:00+00:00", "x"],
            ["2026-01-01T00:00:00", 1],
            ["2026-01-01T00:00:00+00:00", 2**70],
            [1],
            "x",
            None,
            ["2026-01-01T00:00:00+00:00", True],
        ):
            await check.expect(
                officer, "GET", f"/api/v1/bookings?cursor={_cursor(bad)}", 400, "invalid_cursor", "cursor"
            )
        await check.expect(
            officer, "GET", "/api/v1/bookings?cursor=" + "A" * 600, 400, "invalid_cursor", "cursor"
        )
        await check.expect(
            officer, "GET", "/api/v1/bookings?cursor=%E2%9C%93", 400, "invalid_cursor", "cursor"
        )

        # Dates at the edge of the calendar at a UTC+9 facility.
        for day in ("0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"):
            await check.expect(
                officer,
                "GET",
                f"/api/v1/facilities/{wit}/availability?day={day}",
                422,
                "validation_failed",
                "day",
            )
            await check.expect(
                officer,
                "GET",
                f"/api/v1/facilities/{wit}/closures?since={day}",
                422,
                "validation_failed",
                "since",
            )
            await check.expect(
                officer,
                "GET",
                f"/api/v1/bookings?facility_id={wit}&day={day}",
                422,
                "validation_failed",
                "day",
            )
        for starts in ("0001-01-01T00:00", "9999-12-31T23:00"):
            await check.expect(
                officer,
                "POST",
                f"/api/v1/facilities/{wit}/closures",
                422,
                "validation_failed",
                "starts",
                json={"starts": starts, "ends": "2026-01-02T00:00", "reason": "x"},
            )
        await check.expect(
            officer,
            "POST",
            f"/api/v1/facilities/{wit}/closures",
            422,
            "validation_failed",
            "ends",
            json={"starts": "2026-01-01T00:00", "ends": "2026-01-02T00:00+09:00", "reason": "x"},
        )

        # Times: local ones refuse an offset (alone or mixed), instants refuse a naive value.
        mixed = {"windows": [{"weekday": 1, "opens": "08:00", "closes": "12:00:00+09:00"}]}
        await check.expect(
            regional,
            "PUT",
            f"/api/v1/facilities/{wit}/hours",
            422,
            "validation_failed",
            "windows.0.closes",
            json=mixed,
        )
        offset = {"windows": [{"weekday": 1, "opens": "08:00:00+07:00", "closes": "12:00"}]}
        await check.expect(
            regional,
            "PUT",
            f"/api/v1/facilities/{wit}/hours",
            422,
            "validation_failed",
            "windows.0.opens",
            json=offset,
        )
        await check.expect(
            officer,
            "POST",
            "/api/v1/auth/tokens",
            422,
            "validation_failed",
            "expires_at",
            json={"name": "t", "expires_at": "2027-01-01T00:00:00"},
        )
        await check.expect(
            officer,
            "POST",
            "/api/v1/auth/tokens",
            422,
            "validation_failed",
            "expires_at",
            json={"name": "t", "expires_at": "0001-01-01T00:00:00Z"},
        )
        await check.expect(
            officer,
            "POST",
            "/api/v1/auth/tokens",
            422,
            "token_expiry_past",
            "expires_at",
            json={"name": "t", "expires_at": "2001-01-01T00:00:00Z"},
        )

        # Reports: the edge of the calendar and ranges beyond a year are refused at once.
        base = f"/api/v1/reports/compliance?region_id={region}"
        await check.expect(
            regional, "GET", f"{base}&from=0001-01-01&to=0001-01-31", 422, "validation_failed", "from"
        )
        await check.expect(
            regional, "GET", f"{base}&from=2024-01-01&to=2025-06-30", 400, "invalid_period", "to"
        )
        await check.expect(regional, "GET", f"{base}&month=0001-01", 400, "invalid_period", "month")
        await check.expect(regional, "GET", f"{base}&quarter=9999-Q4", 400, "invalid_period", "quarter")

        # Whole numbers beyond PostgreSQL's bigint, in a path, a query and a body, are refused by name.
        await check.expect(
            officer, "GET", f"/api/v1/bookings/{2**70}", 422, "validation_failed", "booking_id"
        )
        await check.expect(
            officer, "GET", f"/api/v1/bookings?inmate_id={2**70}", 422, "validation_failed", "inmate_id"
        )
        await check.expect(
            officer,
            "POST",
            "/api/v1/inmates",
            422,
            "validation_failed",
            "facility_id",
            json={
                "registration_no": "NEW-9",
                "full_name": "Budi",
                "facility_id": 2**70,
                "admitted_on": "2020-01-01",
            },
        )

        # Searches too: an audit search spans at most a year between since and until.
        await check.expect(
            admin,
            "GET",
            "/api/v1/audit/entries?since=2024-01-01T00:00:00Z&until=2025-06-01T00:00:00Z",
            422,
            "validation_failed",
            "until",
        )

        # ?lang= is accepted by every endpoint, with or without a query model; anything else is named.
        for url in (
            "/api/v1/bookings?lang=en",
            f"/api/v1/facilities/{wit}/closures?lang=en",
            "/api/v1/facilities?lang=id",
            "/api/v1/auth/me?lang=en",
            f"{base}&month=2026-01&lang=en",
        ):
            r = await (regional if "reports" in url else officer).get(url)
            tally.answered(f"GET {url}", r.status)
            if r.status != 200:
                check.failures.append(f"GET {url}: {r.status} {(await r.text())[:200]}")
        await check.expect(officer, "GET", "/api/v1/bookings?lang=xx", 422, "validation_failed", "lang")

        # An admission date in the future (the facility's today), or before 1950, by the API and by CSV.
        tomorrow = date.today() + timedelta(days=2)
        for admitted, code in (
            (tomorrow.isoformat(), "admission_date_out_of_range"),
            ("2030-01-01", "admission_date_out_of_range"),
        ):
            if date.fromisoformat(admitted) <= date.today():
                continue  # 2030 is only the future until it is not
            await check.expect(
                officer,
                "POST",
                "/api/v1/inmates",
                422,
                code,
                "admitted_on",
                json={
                    "registration_no": "NEW-1",
                    "full_name": "Budi",
                    "facility_id": wit,
                    "admitted_on": admitted,
                },
            )
        await check.expect(
            officer,
            "POST",
            "/api/v1/inmates",
            422,
            "validation_failed",
            "admitted_on",
            json={
                "registration_no": "NEW-1",
                "full_name": "Budi",
                "facility_id": wit,
                "admitted_on": "1900-01-01",
            },
        )
        code = await owner_conn.fetchval("SELECT code FROM facilities WHERE id = $1", wit)
        csv = (
            f"registration_no,full_name,facility_code,admitted_on\nNEW-2,Budi,{code},{tomorrow.isoformat()}\n"
        )
        await check.expect(
            admin,
            "POST",
            "/api/v1/inmates/import",
            422,
            "import_rejected",
            "admitted_on",
            data=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )
    finally:
        tally.findings.extend(check.failures)
        tally.record()
    assert not check.failures, "\n".join(check.failures)


async def test_the_link_view_answers_alike_for_missing_and_foreign_inmates(
    client, factory: Factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    tally = Tally("hostile_link_view")
    mine, theirs = await factory.region(), await factory.region()
    here, there = await factory.facility(mine), await factory.facility(theirs)
    local, foreign = await factory.inmate(here), await factory.inmate(there)
    number = "+6281234567001"
    for inmate in (local, foreign):
        await factory.contact(inmate, number)
    security = await factory.as_role("security", facility_id=here)
    missing = await owner_conn.fetchval("SELECT max(id) + 1000 FROM inmates")
    answers = []
    for inmate_id in (foreign, missing):
        r = await security.get(f"/api/v1/links/inmates/{inmate_id}")
        body = await r.json()
        tally.answered(f"GET links/inmates/{inmate_id}", r.status)
        answers.append(
            (r.status, body["code"], body.get("field"), body.get("detail", "").replace(str(inmate_id), "N"))
        )
    if answers[0] != answers[1]:
        tally.leak(f"link view: foreign {answers[0]} vs missing {answers[1]}")
    # The page says the same for both, in the page's language.
    await factory.user("security", facility_id=here, username="kamtib-links")
    await page_login(client, "kamtib-links")
    pages = []
    for inmate_id in (foreign, missing):
        r = await client.get(f"/security/links?inmate_id={inmate_id}", headers={"Accept": "text/html"})
        tally.answered(f"GET /security/links?inmate_id={inmate_id}", r.status)
        # Tokens and the request id differ on every page; what the user reads must not.
        text = re.sub(
            r'value="[^"]*"', "", (await r.text()).replace(r.headers.get("X-Request-ID", "-"), "RID")
        )
        text = text.replace(str(inmate_id), "N")
        pages.append((r.status, text))
    if pages[0] != pages[1]:
        tally.leak("link page: foreign and missing inmates differ")

    # Redacted inmates are a keyed hash with the service's secret, not a permutation of the id.
    r = await security.post("/api/v1/links/number", json={"number": number})
    graph = await r.json()
    tally.answered("POST links/number", r.status)
    redacted = [n for n in graph["nodes"] if n.get("redacted")]
    secret = client.server.app[keys.SECRET_KEY]
    expected = (
        "inmate:x" + hmac.new(secret, f"link-view inmate {foreign}".encode(), hashlib.sha256).hexdigest()[:24]
    )
    tally.record()
    assert answers[0] == answers[1] == (404, "inmate_not_found", "inmate_id", "inmate N not found"), answers
    assert pages[0][0] == pages[1][0] == 404 and pages[0][1] == pages[1][1]
    assert r.status == 200 and [n["id"] for n in redacted] == [expected], graph
    assert f"{foreign * 2654435761 % 2**32:08x}" not in json.dumps(graph)
    assert tally.scope_leaks == 0


def _request_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every schema a request is checked against: parameters, and bodies with the components they reach."""
    components = spec["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(where: str, schema: Any, seen: frozenset[str]) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref", "")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    walk(name, components[name], seen | {name})
                return
            found.append((where, schema))
            for key, sub in schema.items():
                walk(f"{where}.{key}", sub, seen)
        elif isinstance(schema, list):
            for sub in schema:
                walk(where, sub, seen)

    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                walk(f"{method} {path} {param['name']}", param["schema"], frozenset())
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                walk(f"{method} {path} body", body["schema"], frozenset())
    return found


async def test_the_openapi_document_states_every_input_bound(client) -> None:  # type: ignore[no-untyped-def]
    spec = await (await client.get("/api/openapi.json")).json()
    unbounded = [
        where
        for where, schema in _request_schemas(spec)
        if schema.get("format") in ("date", "date-time")
        and not {"formatMinimum", "formatMaximum", "pattern"} <= schema.keys()
    ]
    assert not unbounded, unbounded
    naive_or_aware = [
        where
        for where, schema in _request_schemas(spec)
        if schema.get("type") == "string"
        and "T" in schema.get("pattern", "")
        and "offset" not in schema.get("description", "")
    ]
    assert not naive_or_aware, naive_or_aware  # each date-time input says which rule it follows
    unbounded_ints = [
        where
        for where, schema in _request_schemas(spec)
        if schema.get("type") == "integer" and "maximum" not in schema
    ]
    assert not unbounded_ints, unbounded_ints
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            names = [p["name"] for p in op.get("parameters", [])]
            assert "lang" in names, f"{method} {path}"
            if "cursor" in names:
                cursor = next(p for p in op["parameters"] if p["name"] == "cursor")["schema"]
                assert "pattern" in json.dumps(cursor) and "maxLength" in json.dumps(cursor), (path, cursor)
    heavy = {
        path for path, ops in spec["paths"].items() for op in ops.values() if op["x-request-class"] == "heavy"
    }
    assert {"/api/v1/reports/compliance", "/api/v1/audit/entries", "/api/v1/links/number"} <= heavy, heavy
    report = spec["paths"]["/api/v1/reports/compliance"]["get"]
    assert "366" in json.dumps(report["parameters"])
