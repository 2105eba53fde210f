"""The same act gets the same answer on both faces (API and pages), and errors and metrics tell the truth.

Each test does one act through the JSON API and through the pages, as two different users would, and
checks what they see and what the database holds afterwards.
"""

from __future__ import annotations

import re

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.factory import Factory
from tests.pages_helpers import insert_flag, open_all_day_facility, page_login
from wartel.app import create_app
from wartel.pages.framework import PageCtx, page


async def test_redirects_and_page_posts_are_counted_with_their_status(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.metrik")
    csrf = await page_login(client, "kanwil.metrik")  # POST /login answers 303, GET /login 302 once logged in
    r = await client.post(
        "/language", data={"language": "id", "next": "/regional", "csrf_token": csrf}, allow_redirects=False
    )
    assert r.status == 303, await r.text()
    metrics = await (await client.get("/metrics")).text()
    counted = {
        (m["route"], m["status"])
        for m in re.finditer(
            r'wartel_http_requests_total\{[^}]*route="(?P<route>[^"]+)"[^}]*status="(?P<status>\d+)"', metrics
        )
    }
    assert (
        ("/login", "303") in counted and ("/login", "302") in counted and ("/language", "303") in counted
    ), counted
    assert not [c for c in counted if c[1].startswith("5")], counted  # a 5xx alert would not fire on a login


async def test_a_policy_form_refusal_is_a_page_in_its_language_with_the_input_kept(
    client, factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.kebijakan")
    csrf = await page_login(client, "kanwil.kebijakan")
    form = {
        "csrf_token": csrf,
        "region_id": str(rid),
        "target": "region",
        "allowance": "family",
        "period": "week",
        "calls_allowed": "4",
        "max_minutes": "0",
        "min_lead_minutes": "60",
        "max_days_ahead": "14",
        "cancel_cutoff_minutes": "120",
        "booth_kinds": "phone",
        "note": "uji nol",
    }
    before = await owner_conn.fetchval("SELECT count(*) FROM call_policy_versions")
    r = await client.post("/regional/policies", data=form)
    html = await r.text()
    assert r.status == 422, html
    assert r.content_type == "text/html"
    assert "Isian tidak valid" in html and "Periksa isian “Menit per panggilan”" in html
    assert 'id="max_minutes" name="max_minutes" type="number" min="0" required value="0"' in html
    assert 'value="uji nol"' in html  # what the user typed stays
    assert "call_policy" not in html and '"code"' not in html  # no constraint name, no raw JSON
    assert await owner_conn.fetchval("SELECT count(*) FROM call_policy_versions") == before
    # The same value through the API: the same refusal, for the same field.
    api = await factory.as_role("regional", region_id=rid)
    r = await api.post(
        "/api/v1/call-policies",
        json={
            "scope": "region",
            "region_id": rid,
            "allowance": "family",
            "period": "week",
            "calls_allowed": 4,
            "max_minutes": 0,
            "min_lead_minutes": 60,
            "max_days_ahead": 14,
            "cancel_cutoff_minutes": 120,
            "no_show_consumes": True,
            "booth_kinds": ["phone"],
        },
    )
    assert r.status == 422, await r.text()
    assert (await r.json())["field"] == "max_minutes"
    # In English, the page says it in English.
    r = await client.post("/regional/policies?lang=en", data=form)
    assert r.status == 422 and "Minutes per call" in await r.text()


async def test_a_prefix_is_parsed_once_for_both_faces(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid)
    await factory.user("security", facility_id=fid, username="kamtib.awalan")
    csrf = await page_login(client, "kamtib.awalan")
    api = await factory.as_role("security", facility_id=fid)
    for bad in ("+0812", "0812", "+62a1"):
        r = await client.post(
            "/security/watchlist",
            data={
                "csrf_token": csrf,
                "pattern_kind": "prefix",
                "pattern": bad,
                "mode": "blocked",
                "reason": "uji",
            },
        )
        page_status, html = r.status, await r.text()
        r = await api.post(
            "/api/v1/watchlist",
            json={
                "pattern_kind": "prefix",
                "pattern": bad,
                "mode": "blocked",
                "scope": "facility",
                "scope_id": fid,
                "reason": "uji",
            },
        )
        assert r.status == page_status == 400, (bad, page_status, await r.text())
        assert (await r.json())["code"] == "invalid_prefix"
        assert "Awalan ditulis + lalu 3 sampai 14 angka" in html and f'value="{bad}"' in html
    assert await owner_conn.fetchval("SELECT count(*) FROM watchlist") == 0
    r = await client.post(
        "/security/watchlist",
        data={
            "csrf_token": csrf,
            "pattern_kind": "prefix",
            "pattern": "+62899",
            "mode": "blocked",
            "reason": "uji",
        },
    )
    assert r.status == 200, await r.text()
    assert await owner_conn.fetchval("SELECT pattern FROM watchlist WHERE scope = 'facility'") == "+62899"


async def test_an_inmate_out_of_scope_is_the_same_answer_as_a_missing_one_everywhere(
    client, factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    own, other = await factory.region(), await factory.region()
    fid, foreign_fid = await factory.facility(own), await factory.facility(other)
    foreign = await factory.inmate(foreign_fid)
    missing = foreign + 10_000
    await factory.user("security", facility_id=fid, username="kamtib.lingkup")
    await page_login(client, "kamtib.lingkup")
    api = await factory.as_role("security", facility_id=fid)
    answers = set()
    for inmate in (foreign, missing):
        for path in (
            f"/api/v1/inmates/{inmate}",
            f"/api/v1/inmates/{inmate}/sanctions",
            f"/api/v1/inmates/{inmate}/call-rights",
            f"/api/v1/inmates/{inmate}/contacts",
            f"/api/v1/links/inmates/{inmate}",
        ):
            r = await api.get(path)
            answers.add((r.status, (await r.json())["code"]))
        r = await api.post(
            "/api/v1/sanctions",
            json={
                "inmate_id": inmate,
                "kind": "suspend",
                "starts_at": "2030-01-01T08:00:00+07:00",
                "ends_at": "2030-01-08T08:00:00+07:00",
                "reason": "uji",
            },
        )
        answers.add((r.status, (await r.json())["code"]))
        for path in (f"/officer/inmates/{inmate}", f"/security/links?inmate_id={inmate}"):
            r = await client.get(path)
            answers.add((r.status, re.search(r"<code>(\w+)</code>", await r.text()).group(1)))  # type: ignore[union-attr]
    assert answers == {(404, "inmate_not_found")}
    assert await owner_conn.fetchval("SELECT count(*) FROM sanctions") == 0


async def test_an_officer_may_not_sanction_on_either_face(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn)
    await factory.user("officer", facility_id=fid, username="petugas.sanksi")
    csrf = await page_login(client, "petugas.sanksi")
    api = await factory.as_role("officer", facility_id=fid)
    r = await api.post(
        "/api/v1/sanctions",
        json={
            "inmate_id": inmate,
            "kind": "suspend",
            "starts_at": "2030-01-01T08:00:00+07:00",
            "ends_at": "2030-01-08T08:00:00+07:00",
            "reason": "uji",
        },
    )
    assert r.status == 403 and (await r.json())["code"] == "forbidden_role"
    r = await client.post(
        f"/officer/inmates/{inmate}/sanctions",
        data={
            "csrf_token": csrf,
            "kind": "suspend",
            "starts_at": "2030-01-01T08:00",
            "ends_at": "2030-01-08T08:00",
            "reason": "uji",
        },
    )
    assert r.status == 403 and "forbidden_role" in await r.text()
    assert await owner_conn.fetchval("SELECT count(*) FROM sanctions") == 0


async def test_the_regional_office_reviews_flags_and_blocks_numbers_on_both_faces(
    client, factory, owner_conn
) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid)
    by_page = await insert_flag(owner_conn, rid, fid, number="+6281299990001")
    by_api = await insert_flag(owner_conn, rid, fid, number="+6281299990002")
    await factory.user("regional", region_id=rid, username="kanwil.tinjau")
    csrf = await page_login(client, "kanwil.tinjau")
    r = await client.get(f"/security/flags/{by_page}")
    assert r.status == 200 and f"/security/flags/{by_page}/confirm" in await r.text()
    r = await client.post(
        f"/security/flags/{by_page}/confirm",
        data={"csrf_token": csrf, "reason": "terbukti", "watch": "blocked"},
    )
    assert r.status == 200, await r.text()
    api = await factory.as_role("regional", region_id=rid)
    r = await api.post(
        f"/api/v1/flags/{by_api}/confirm", json={"reason": "terbukti", "watchlist": {"mode": "blocked"}}
    )
    assert r.status == 200, await r.text()
    rows = await owner_conn.fetch("SELECT scope, scope_id, pattern, mode FROM watchlist ORDER BY pattern")
    assert [tuple(r) for r in rows] == [
        ("region", rid, "+6281299990001", "blocked"),
        ("region", rid, "+6281299990002", "blocked"),
    ]
    assert await owner_conn.fetchval("SELECT count(*) FROM detection_flags WHERE status = 'confirmed'") == 2
    r = await client.post(
        "/security/watchlist",
        data={
            "csrf_token": csrf,
            "pattern_kind": "number",
            "pattern": "0812-9999-0003",
            "mode": "blocked",
            "reason": "uji",
        },
    )
    assert r.status == 200, await r.text()
    assert (
        await owner_conn.fetchval("SELECT scope FROM watchlist WHERE pattern = '+6281299990003'") == "region"
    )


async def test_a_page_action_that_loses_a_deadlock_is_run_again(settings, database, owner_conn) -> None:  # type: ignore[no-untyped-def]
    attempts: list[int] = []

    @page("admin", write=True)
    async def create_region_losing_one_deadlock(req: web.Request, pc: PageCtx) -> web.StreamResponse:
        await pc.conn.execute("INSERT INTO regions (code, name) VALUES ('PGRETRY', 'Retry')")
        attempts.append(1)
        if len(attempts) == 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        raise web.HTTPSeeOther("/regional")

    app = create_app(settings, target=database, migrate=False)
    app.router.add_post("/test/page-retry", create_region_losing_one_deadlock)
    async with TestClient(TestServer(app)) as client:
        await Factory(owner_conn, client).user("admin", username="admin.ulang")
        csrf = await page_login(client, "admin.ulang")
        r = await client.post("/test/page-retry", data={"csrf_token": csrf}, allow_redirects=False)
        assert r.status == 303, await r.text()
    assert len(attempts) == 2
    # The first attempt rolled back entirely: the region exists once.
    assert await owner_conn.fetchval("SELECT count(*) FROM regions WHERE code = 'PGRETRY'") == 1
