"""Authorisation cases for reports: security, regional and admin pull live reports within their scope;
the monthly archive is the regional office's (and the admin's)."""

from __future__ import annotations

from audit import Actor
from tests.authz import Case, World
from wartel.reports.archive import store_monthly_report
from wartel.reports.period import month_period

READERS = frozenset({"security", "regional", "admin"})
ARCHIVE = frozenset({"regional", "admin"})
FACILITY_REPORT = "?facility_id={facility_id}&month=2026-01"
STORED = "/api/v1/reports/monthly/{region_id}/{month}"

CASES = [
    Case("GET", "/api/v1/reports/compliance" + FACILITY_REPORT, READERS),
    Case("GET", "/api/v1/reports/compliance.csv" + FACILITY_REPORT + "&section=inmates_without_call", READERS),
    Case("GET", "/api/v1/reports/compliance.html" + FACILITY_REPORT, READERS),
    Case("GET", "/api/v1/reports/monthly?region_id={region_id}", ARCHIVE),
    Case("GET", STORED, ARCHIVE),
    Case("GET", STORED + ".csv", ARCHIVE),
    Case("GET", STORED + ".html", ARCHIVE),
]


async def extend_world(world: World) -> None:
    """January's report is stored for both regions, so the archive cases read a real one."""
    conn = world.factory.conn
    for scope in ("own", "foreign"):
        await store_monthly_report(conn, world.scopes[scope]["region_id"], month_period("2026-01"),
                                   actor=Actor.system("test"))
        world.scopes[scope]["month"] = "2026-01"
