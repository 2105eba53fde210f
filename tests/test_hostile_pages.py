"""Page forms under fire, for every role: wrong types, missing CSRF, huge fields, odd query strings.

Each role logs in through the login page (a cookie session, as a browser) and sends generated form-encoded
bodies to every page that takes a POST, and generated query strings to every page, with path ids of its own
scope, of another region, of nothing, and beyond bigint. The field names are read from the page handlers'
source (``form.get("…")``, ``query.get("…")``), so a new field is fuzzed without touching this file.

Every answer is below 500; every 4xx is a page (``text/html``, in the session's language), not
problem+json; a refused form writes nothing (every table and audit log compared before and after); a form
without its CSRF token is a 403 page.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

from tests.faults.probe import WriteProbe
from tests.hostile_report import Tally
from tests.pages_helpers import book_upcoming_call, insert_flag, open_all_day_facility, page_login

ROLES = ("officer", "security", "regional", "admin")
FORMS_PER_TARGET = 4
QUERIES_PER_PAGE = 4
BUDGET_S = 5.0
_PAGES = Path(__file__).resolve().parent.parent / "wartel" / "pages"
_NAME = re.compile(r"""(?:form|query)(?:\.get\(|\[)"(\w+)\"""")
# Forms parsed by the API's request models name their fields only in the templates.
_TEMPLATES = _PAGES.parent / "templates"
_INPUT_NAME = re.compile(r"""<(?:input|select|textarea)\b[^>]*\bname="(\w+)\"""")


def _field_names() -> list[str]:
    names = {m.group(1) for p in _PAGES.glob("*.py") for m in _NAME.finditer(p.read_text())}
    names |= {m.group(1) for p in _TEMPLATES.rglob("*.html") for m in _INPUT_NAME.finditer(p.read_text())}
    names |= {
        "scope",
        "period",
        "month",
        "quarter",
        "from",
        "to",
        "lang",
        "booth_kinds",
        # Read through _opt(form, …) (an empty field is no value), which _NAME does not see.
        "calls_allowed",
        "max_minutes",
        "cancel_cutoff_minutes",
        "max_days_ahead",
        "min_lead_minutes",
    }
    return sorted(names - {"login_token", "password", "username"})


_JUNK = [
    "",
    " ",
    "abc",
    "-1",
    "0",
    "1",
    "1.5",
    "1e9",
    "99999999999999999999999",
    "-9223372036854775809",
    "2026-13-45",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2026-01-01T08:00+09:00",
    "25:61",
    "\u0000",
    "null",
    "[]",
    "{}",
    "<script>x</script>",
    "' OR 1=1 --",
    "r:1",
    "f:1",
    "r:abc",
    "f:99999999999999999999",
    "+628123456789",
    "phone",
    "video",
    "week",
    "month",
    "family",
    "legal",
    "on",
    "watched",
    "blocked",
    "html",
    "csv",
    "json",
    "en",
    "id",
    "2026-01",
    "2026-Q1",
    "range",
    "1|0001-01-01T00:00:00+00:00",
    "1|9999-12-31T23:59:59+00:00",
    "1|2026-01-01T08:00",
    "99999999999999999999|2026-01-01T01:00:00+00:00",
]


def _value(rng: random.Random, huge: bool) -> str:
    roll = rng.random()
    if roll < 0.05:
        # A huge field: in a form body up to 200 kB; in a URL what fits the HTTP server's line limit (8 kB).
        return "A" * (rng.choice((5_000, 200_000)) if huge else 2_000)
    if roll < 0.15:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
    return rng.choice(_JUNK)


def _form(rng: random.Random, names: list[str], *, huge: bool = True) -> dict[str, str]:
    return {
        name: _value(rng, huge)
        for name in rng.sample(names, rng.randrange(1, min(12 if huge else 3, len(names))))
    }


async def _world(factory: Any, owner_conn: Any) -> dict[str, Any]:
    rid, fid, booth, inmate, contact = await open_all_day_facility(factory, owner_conn, code="LP-HOSTILE")
    booking = await book_upcoming_call(factory, fid, booth, inmate, contact)
    flag = await insert_flag(owner_conn, rid, fid)
    other_region = await factory.region()
    other_fid = await factory.facility(other_region)
    other_inmate = await factory.inmate(other_fid)
    other_flag = await insert_flag(owner_conn, other_region, other_fid, number="+6281299990001")
    ids = {
        "own": {"booking": booking, "inmate": inmate, "flag": flag, "region": rid},
        "foreign": {
            "booking": booking + 10_000,
            "inmate": other_inmate,
            "flag": other_flag,
            "region": other_region,
        },
        "missing": {
            "booking": 900_000_001,
            "inmate": 900_000_002,
            "flag": 900_000_003,
            "region": 900_000_004,
        },
        "huge": {k: 10**25 for k in ("booking", "inmate", "flag", "region")},
    }
    users = {
        "officer": {"facility_id": fid},
        "security": {"facility_id": fid},
        "regional": {"region_id": rid},
        "admin": {},
    }
    for role, scope in users.items():
        await factory.user(role, username=f"hostile-{role}", **scope)
    return {"ids": ids, "facility": fid}


def _post_targets(ids: dict[str, dict[str, int]]) -> list[str]:
    targets = ["/officer/book", "/officer/inmates", "/security/watchlist", "/regional/policies", "/language"]
    for which in ids.values():
        targets += [
            f"/officer/bookings/{which['booking']}/{a}" for a in ("check-in", "start", "end", "cancel", "x")
        ]
        targets += [
            f"/officer/inmates/{which['inmate']}/{a}"
            for a in ("contacts", "verify", "reject", "revoke", "sanctions", "lift", "x")
        ]
        targets += [
            f"/security/flags/{which['flag']}/{a}" for a in ("acknowledge", "confirm", "dismiss", "reopen")
        ]
    return targets


def _get_targets(ids: dict[str, dict[str, int]]) -> list[str]:
    targets = [
        "/",
        "/officer",
        "/officer/book",
        "/officer/inmates",
        "/security",
        "/security/links",
        "/security/audit",
        "/security/watchlist",
        "/regional",
        "/reports",
        "/reports/compliance",
        "/regional/policies",
        "/login",
    ]
    for which in ids.values():
        targets += [
            f"/officer/inmates/{which['inmate']}",
            f"/security/flags/{which['flag']}",
            f"/reports/monthly/{which['region']}/2026-01",
            f"/reports/monthly/{which['region']}/0001-13",
        ]
    return targets


async def test_page_forms_and_queries_never_break_for_any_role(client, factory, owner_conn) -> None:  # type: ignore[no-untyped-def]
    tally = Tally("hostile_pages")
    world = await _world(factory, owner_conn)
    names = _field_names()
    assert {"admitted_on", "inmate_id", "slot", "starts_at", "calls_allowed"} <= set(names), names
    probe = WriteProbe(owner_conn)
    rng = random.Random(15)
    not_pages: list[str] = []

    async def send(label: str, method: str, url: str, **kw: Any) -> int:
        before = await probe.snapshot()
        started = time.monotonic()
        r = await client.request(method, url, allow_redirects=False, headers={"Accept": "text/html"}, **kw)
        await r.read()
        elapsed = time.monotonic() - started
        written = WriteProbe.changed(before, await probe.snapshot()) if r.status >= 400 else []
        tally.answered(label, r.status, elapsed, budget_s=BUDGET_S, written=written)
        if r.status >= 400 and not r.content_type.startswith("text/html"):
            not_pages.append(f"{label} -> {r.status} {r.content_type}")
        return r.status

    for role in ROLES:
        client.session.cookie_jar.clear()
        csrf = await page_login(client, f"hostile-{role}")
        for url in _post_targets(world["ids"]):
            # Without the CSRF token: refused as a page, whatever the body.
            status = await send(f"{role} POST {url} no csrf", "POST", url, data=_form(rng, names))
            if status != 403:
                not_pages.append(f"{role} POST {url} without CSRF -> {status}")
            for _ in range(FORMS_PER_TARGET):
                form = {**_form(rng, names), "csrf_token": csrf}
                await send(f"{role} POST {url} {sorted(form)}", "POST", url, data=form)
        # The edge of the calendar in the forms' date and time fields, deterministically.
        for edge in ("1|0001-01-01T00:00:00+00:00", "1|9999-12-31T23:59:59+00:00", "1|2026-01-01T08:00"):
            await send(
                f"{role} POST /officer/book slot={edge}",
                "POST",
                "/officer/book",
                data={"csrf_token": csrf, "slot": edge, "inmate_id": "1", "contact_id": "1"},
            )
        for edge in ("0001-01-01T00:00", "9999-12-31T23:59", "2026-01-01T08:00+09:00"):
            url = f"/officer/inmates/{world['ids']['own']['inmate']}/sanctions"
            await send(
                f"{role} POST sanctions starts_at={edge}",
                "POST",
                url,
                data={
                    "csrf_token": csrf,
                    "kind": "suspend",
                    "starts_at": edge,
                    "ends_at": "2026-02-01T08:00",
                    "reason": "uji",
                },
            )
        # The edge of the calendar in every date-like query parameter, on every page without ids.
        for url in _get_targets({}):
            for name in ("day", "from", "to", "month", "quarter", "days"):
                for edge in ("0001-01-01", "9999-12-31", "-1", "99999999999999999999"):
                    await send(
                        f"{role} GET {url}?{name}={edge}", "GET", url, params={name: edge, "period": "range"}
                    )
        for url in _get_targets(world["ids"]):
            for _ in range(QUERIES_PER_PAGE):
                await send(f"{role} GET {url}", "GET", url, params=_form(rng, names, huge=False))
        # A page about something out of scope reads exactly like one about nothing at all (the admin's
        # scope is everything: nothing is foreign to it).
        for kind, url in (
            ()
            if role == "admin"
            else (
                ("inmate", "/officer/inmates/{}"),
                ("flag", "/security/flags/{}"),
                ("region", "/reports/monthly/{}/2026-01"),
            )
        ):
            seen = []
            for which in ("foreign", "missing"):
                ident = world["ids"][which][kind]
                r = await client.get(
                    url.format(ident), allow_redirects=False, headers={"Accept": "text/html"}
                )
                text = re.sub(
                    r'value="[^"]*"', "", (await r.text()).replace(r.headers.get("X-Request-ID", "-"), "")
                )
                tally.answered(f"{role} GET {url} {which}", r.status)
                seen.append((r.status, text.replace(str(ident), "N")))
            if seen[0] != seen[1]:
                tally.leak(f"{role} {url}: foreign {seen[0][0]} and missing {seen[1][0]} pages differ")
    tally.findings.extend(not_pages)
    tally.record(roles=len(ROLES))
    assert not tally.findings, "\n".join(tally.findings[:40])
