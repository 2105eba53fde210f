"""Login, logout, language switch and refusals, as a person at a browser sees them."""

from __future__ import annotations

from tests.factory import PASSWORD
from tests.pages_helpers import hidden_fields, page_login


async def test_login_page_logs_in_and_lands_on_the_role_home(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.sumbar")
    r = await client.get("/regional", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login?next=")
    r = await client.get("/login")
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": "kanwil.sumbar", "password": PASSWORD, "login_token": token},
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/regional", await r.text()
    cookie = r.cookies["wartel_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    r = await client.get("/regional")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Dasbor wilayah" in html and "kanwil.sumbar" in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


async def test_wrong_password_and_stale_form_are_explained(client, factory) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    await factory.user("officer", facility_id=fid, username="petugas.satu")
    r = await client.get("/login?lang=en")
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login?lang=en", data={"username": "petugas.satu", "password": "nope",
                                                  "login_token": token})
    assert r.status == 401
    assert "Wrong username or password." in await r.text()
    r = await client.post("/login?lang=en", data={"username": "petugas.satu", "password": PASSWORD,
                                                  "login_token": "forged"})
    assert r.status == 403
    assert "login form expired" in await r.text()


async def test_language_switch_is_kept_in_the_session(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.dua")
    csrf = await page_login(client, "kanwil.dua")
    r = await client.post("/language", data={"language": "en", "next": "/reports", "csrf_token": csrf})
    assert r.status == 200, await r.text()
    assert "Compliance reports" in await r.text()
    r = await client.get("/regional")
    assert "Regional dashboard" in await r.text()
    # Problem titles of the API follow the session's language as well.
    r = await client.get("/api/v1/reports/compliance?month=2026-13")
    assert r.status == 400, await r.text()
    assert (await r.json(content_type=None))["title"] == "Invalid period"
    # And refusals on pages.
    r = await client.get("/reports/compliance?month=2026-13&period=month&format=html")
    assert r.status == 400, await r.text()
    text = await r.text()
    assert "Invalid period" in text and "month must look like 2026-01" in text


async def test_forms_without_the_csrf_token_are_refused_with_a_page(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.tiga")
    await page_login(client, "kanwil.tiga")
    r = await client.post("/language", data={"language": "en", "next": "/"})
    assert r.status == 403
    assert r.content_type == "text/html"
    assert "Formulir ini sudah kedaluwarsa" in await r.text()


async def test_logout_ends_the_session(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.empat")
    csrf = await page_login(client, "kanwil.empat")
    r = await client.post("/logout", data={"csrf_token": csrf})
    assert r.status == 200
    assert "Anda sudah keluar." in await r.text()
    r = await client.get("/regional", allow_redirects=False)
    assert r.status == 302


async def test_a_role_without_access_sees_a_refusal_page(client, factory) -> None:  # type: ignore[no-untyped-def]
    fid = await factory.facility()
    await factory.user("officer", facility_id=fid, username="petugas.dua")
    await page_login(client, "petugas.dua", lang="en")
    r = await client.get("/reports")
    assert r.status == 403
    text = await r.text()
    assert "Your role may not do this" in text and "officer" in text


async def test_next_parameter_only_goes_to_local_pages(client, factory) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    await factory.user("regional", region_id=rid, username="kanwil.lima")
    r = await client.get("/login")
    token = hidden_fields(await r.text())["login_token"]
    r = await client.post("/login", data={"username": "kanwil.lima", "password": PASSWORD, "login_token": token,
                                          "next": "//evil.example/x"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/regional"


async def test_regional_office_sets_a_facility_policy_version(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    rid = await factory.region()
    fid = await factory.facility(rid, code="LP-SOLOK")
    await factory.user("regional", region_id=rid, username="kanwil.enam")
    csrf = await page_login(client, "kanwil.enam")
    form = {"csrf_token": csrf, "target": f"f:{fid}", "allowance": "family", "risk_level": "high",
            "period": "month", "calls_allowed": "4", "max_minutes": "10", "min_lead_minutes": "99999",
            "max_days_ahead": "14", "cancel_cutoff_minutes": "60", "booth_kinds": "phone"}
    r = await client.post("/regional/policies", data=form)
    assert r.status == 422, await r.text()
    assert 'role="alert"' in await r.text()
    r = await client.post("/regional/policies", data={**form, "min_lead_minutes": "120"})
    assert r.status == 200, await r.text()
    html = await r.text()
    assert "Kebijakan disimpan sebagai versi baru." in html and "LP-SOLOK" in html
    row = await owner_conn.fetchrow(
        "SELECT v.calls_allowed, v.period, v.booth_kinds FROM call_policies p JOIN call_policy_versions v"
        " USING (policy_id) WHERE p.scope_facility_id = $1", fid)
    assert (row["calls_allowed"], row["period"], row["booth_kinds"]) == (4, "month", ["phone"])
