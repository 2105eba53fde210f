"""Bad input to the registry's endpoints: a 4xx problem+json naming the field, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wartel.config import Settings

MAX_BODY = 4_000
MAX_UPLOAD = 20_000
CSV_HEADER = "registration_no,full_name,facility_code,admitted_on,block,risk_level\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, scheduler=False, demo=False, db_pool_min=1, db_pool_max=4,
                    secret_key_file=tmp_path / "secret.key", signing_key_file=tmp_path / "signing.key",
                    max_body_bytes=MAX_BODY, max_upload_bytes=MAX_UPLOAD)


@pytest.fixture
async def ctx(factory):  # type: ignore[no-untyped-def]
    fid = await factory.facility(code="LP-UJI")
    inmate = await factory.inmate(fid)
    return {"facility": fid, "inmate": inmate, "officer": await factory.as_role("officer", facility_id=fid),
            "regional": await factory.as_role("regional", region_id=await factory.conn.fetchval(
                "SELECT region_id FROM facilities WHERE id = $1", fid))}


_TABLES = ("inmates", "contacts", "closures", "opening_hours", "booths", "facilities", "users", "audit.entries")


async def _counts(conn) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in _TABLES}  # noqa: S608 (fixed names)


def _inmate(**over):  # type: ignore[no-untyped-def]
    return {"registration_no": "BAD-001", "full_name": "Warga Uji", "facility_id": "{facility}",
            "admitted_on": "2025-01-02", **over}


JSON_CASES = [
    # (id, method, path, body, status, field)
    ("wrong type", "POST", "/api/v1/inmates", _inmate(facility_id="abc"), 422, "facility_id"),
    ("string for int", "POST", "/api/v1/inmates", _inmate(facility_id="1"), 422, "facility_id"),
    ("missing field", "POST", "/api/v1/inmates", {"registration_no": "BAD-1", "facility_id": 1,
                                                  "admitted_on": "2025-01-02"}, 422, "full_name"),
    ("unknown field", "POST", "/api/v1/inmates", _inmate(nickname="x"), 422, "nickname"),
    ("bad date", "POST", "/api/v1/inmates", _inmate(admitted_on="02/01/2025"), 422, "admitted_on"),
    ("bad enum", "POST", "/api/v1/inmates", _inmate(risk_level="extreme"), 422, "risk_level"),
    ("unknown facility", "POST", "/api/v1/inmates", _inmate(facility_id=987654), 404, "facility_id"),
    ("id beyond bigint", "POST", "/api/v1/inmates", _inmate(facility_id=2**70), 422, "facility_id"),  # beyond bigint: refused by the input model
    ("null body", "POST", "/api/v1/inmates", None, 422, "body"),
    ("array body", "POST", "/api/v1/inmates", [1, 2], 422, "body"),
    ("malformed phone", "POST", "/api/v1/inmates/{inmate}/contacts",
     {"phone": "nomor saya", "name": "Ani", "relation": "spouse"}, 422, "phone"),
    ("invalid phone", "POST", "/api/v1/inmates/{inmate}/contacts",
     {"phone": "0809 1234 5678", "name": "Ani", "relation": "spouse"}, 422, "phone"),
    ("premium-rate phone", "POST", "/api/v1/inmates/{inmate}/contacts",
     {"phone": "+1 900 555 0100", "name": "Ani", "relation": "spouse"}, 422, "phone"),
    ("phone too short", "POST", "/api/v1/inmates/{inmate}/contacts",
     {"phone": "112", "name": "Ani", "relation": "spouse"}, 422, "phone"),
    ("bad relation", "POST", "/api/v1/inmates/{inmate}/contacts",
     {"phone": "081234567890", "name": "Ani", "relation": "friend"}, 422, "relation"),
    ("unknown inmate", "POST", "/api/v1/inmates/987654/contacts",
     {"phone": "081234567890", "name": "Ani", "relation": "spouse"}, 404, "inmate_id"),
    ("path id not a number", "GET", "/api/v1/inmates/abc", None, 422, "inmate_id"),
    ("bad query", "GET", "/api/v1/inmates?limit=0", None, 422, "limit"),
    ("unknown query", "GET", "/api/v1/inmates?colour=red", None, 422, "colour"),
    ("window order", "PUT", "/api/v1/facilities/{facility}/hours",
     {"windows": [{"weekday": 1, "opens": "12:00", "closes": "08:00"}]}, 422, "windows.0.closes"),
    ("weekday range", "PUT", "/api/v1/facilities/{facility}/hours",
     {"windows": [{"weekday": 8, "opens": "08:00", "closes": "12:00"}]}, 422, "windows.0.weekday"),
    ("bad time", "PUT", "/api/v1/facilities/{facility}/hours",
     {"windows": [{"weekday": 1, "opens": "8 pagi", "closes": "12:00"}]}, 422, "windows.0.opens"),
    ("closure with offset", "POST", "/api/v1/facilities/{facility}/closures",
     {"starts": "2026-08-17T00:00+07:00", "ends": "2026-08-18T00:00", "reason": "x"}, 422, "starts"),
    ("empty patch", "PATCH", "/api/v1/inmates/{inmate}", {}, 422, "body"),
    ("booth kind", "POST", "/api/v1/facilities/{facility}/booths", {"name": "B", "kind": "fax"}, 422, "kind"),
    ("user scope mismatch", "POST", "/api/v1/users", {"username": "baru", "full_name": "Baru", "role": "officer",
                                                      "password": "kata-sandi-uji-1"}, 400, "role"),
]


def _fill(value, ctx):  # type: ignore[no-untyped-def]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ctx[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ctx)
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ctx) for v in value]
    return value


async def _problem(r, status: int, field: str | None):  # type: ignore[no-untyped-def]
    text = await r.text()
    assert r.status == status, text
    assert r.content_type == "application/problem+json", text
    body = await r.json(content_type=None)
    assert body["status"] == status and body["code"], body
    if field is not None:
        assert body.get("field") == field, body
    return body


async def test_bad_json_input(ctx, owner_conn) -> None:  # type: ignore[no-untyped-def]
    """All cases in one database (a database per case would cost more than the cases)."""
    failures = []
    for name, method, path, body, status, field in JSON_CASES:
        who = ctx["regional"] if path.startswith(("/api/v1/users", "/api/v1/facilities/{facility}/hours",
                                                  "/api/v1/facilities/{facility}/booths")) else ctx["officer"]
        before = await _counts(owner_conn)
        kwargs = {} if method == "GET" else {"data": json.dumps(_fill(body, ctx)),
                                             "headers": {"Content-Type": "application/json"}}
        r = await who.request(method, _fill(path, ctx), **kwargs)
        try:
            await _problem(r, status, field)
            assert await _counts(owner_conn) == before, "something was written"
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


async def test_invalid_json_wrong_media_type_and_oversized_body(ctx, owner_conn) -> None:  # type: ignore[no-untyped-def]
    before = await _counts(owner_conn)
    officer = ctx["officer"]
    r = await officer.post("/api/v1/inmates", data=b'{"registration_no": "X-1",', headers={"Content-Type": "application/json"})
    await _problem(r, 400, "body")
    r = await officer.post("/api/v1/inmates", data=b"registration_no=X-1", headers={"Content-Type": "text/plain"})
    await _problem(r, 415, "Content-Type")
    big = '{"registration_no": "X-1", "full_name": "' + "a" * MAX_BODY + '"}'
    r = await officer.post("/api/v1/inmates", data=big.encode(), headers={"Content-Type": "application/json"})
    await _problem(r, 413, "body")
    assert await _counts(owner_conn) == before


CSV_CASES = [
    ("unknown column", CSV_HEADER.replace("block", "blok") + "A-1,Budi,LP-UJI,2025-01-02,,\n", 1, "blok"),
    ("missing column", "registration_no,full_name,admitted_on\nA-1,Budi,2025-01-02\n", 1, "facility_code"),
    ("bad date", CSV_HEADER + "A-1,Budi,LP-UJI,2025-13-02,,\n", 2, "admitted_on"),
    ("future date", CSV_HEADER + "A-1,Budi,LP-UJI,2999-01-02,,\n", 2, "admitted_on"),
    ("bad risk", CSV_HEADER + "A-1,Budi,LP-UJI,2025-01-02,,extreme\n", 2, "risk_level"),
    ("bad registration", CSV_HEADER + "A 1,Budi,LP-UJI,2025-01-02,,\n", 2, "registration_no"),
    ("unknown facility", CSV_HEADER + "A-1,Budi,LP-NOWHERE,2025-01-02,,\n", 2, "facility_code"),
    ("too few values", CSV_HEADER + "A-1,Budi,LP-UJI\n", 2, "row"),
    ("unterminated quote", CSV_HEADER + 'A-1,"Budi,LP-UJI,2025-01-02,,\n', 2, "row"),
    ("header only", CSV_HEADER, 2, "body"),
    ("empty file", "", 1, "body"),
    ("duplicate in file", CSV_HEADER + "A-1,Budi,LP-UJI,2025-01-02,,\nA-1,Agus,LP-UJI,2025-01-02,,\n", 3,
     "registration_no"),
]


async def test_malformed_csv_is_refused_whole(ctx, owner_conn) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for name, text, row, field in CSV_CASES:
        before = await _counts(owner_conn)
        # A good row first: it must not be written either.
        if text.startswith(CSV_HEADER) and text != CSV_HEADER:
            text = CSV_HEADER + "GOOD-1,Siti,LP-UJI,2025-01-02,A,low\n" + text[len(CSV_HEADER):]
            row += 1
        r = await ctx["officer"].post("/api/v1/inmates/import", data=text.encode(),
                                      headers={"Content-Type": "text/csv"})
        try:
            body = await _problem(r, 422, None)
            reported = [{"row": e["row"], "field": e["field"]} for e in body["errors"]]
            assert {"row": row, "field": field} in reported, body
            assert body["field"], body
            assert await _counts(owner_conn) == before, "something was written"
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


async def test_csv_upload_limits_and_media_type(ctx, owner_conn) -> None:  # type: ignore[no-untyped-def]
    before = await _counts(owner_conn)
    officer = ctx["officer"]
    r = await officer.post("/api/v1/inmates/import", data=CSV_HEADER.encode(), headers={"Content-Type": "application/json"})
    await _problem(r, 415, "Content-Type")
    rows = "".join(f"BIG-{i:06d},Warga Binaan Nomor {i},LP-UJI,2025-01-02,A,low\n" for i in range(1000))
    r = await officer.post("/api/v1/inmates/import", data=(CSV_HEADER + rows).encode(), headers={"Content-Type": "text/csv"})
    await _problem(r, 413, "body")
    r = await officer.post("/api/v1/inmates/import", data=b"\xff\xfe\x00bad", headers={"Content-Type": "text/csv"})
    await _problem(r, 422, "body")
    assert await _counts(owner_conn) == before


async def test_good_csv_imports_every_row_with_one_audit_record_each(ctx, owner_conn) -> None:  # type: ignore[no-untyped-def]
    text = ("registration_no;full_name;facility_code;admitted_on\n"  # semicolons, as spreadsheets export
            "IMP-001;Siti Rahma;LP-UJI;2025-02-01\nIMP-002;Agus Salim;LP-UJI;2025-02-03\n\n")
    r = await ctx["officer"].post("/api/v1/inmates/import", data=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["imported"] == 2 and body["by_facility"] == {"LP-UJI": 2}
    records = await owner_conn.fetch(
        "SELECT subject_id FROM audit.entries WHERE action = 'inmate.created' AND payload->>'source' = 'import'")
    assert sorted(int(r["subject_id"]) for r in records) == sorted(body["inmate_ids"])
    r = await ctx["officer"].post("/api/v1/inmates/import", data=text.encode(), headers={"Content-Type": "text/csv"})
    body = await _problem(r, 422, "registration_no")
    assert [e["row"] for e in body["errors"]] == [2, 3]  # already registered: the second import adds nothing
