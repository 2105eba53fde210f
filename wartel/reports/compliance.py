"""The compliance report: set-based SQL over a facility or a region, one snapshot, each facility's own zone.

Every query starts from ``facility_periods``: one row per facility with the period's bounds as instants
in that facility's time zone, so a WIT facility's January ends two hours before a WIB facility's. Inmates
are placed by their ``stays`` (admission, transfers, release; days in each facility's zone), never by their
current facility: a moved inmate counts at every facility that held him in the period, once in the total.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from audit import LogRef
from audit.checkpoints import latest_checkpoint
from audit.verify import verification_status
from wartel.errors import NotFound
from wartel.reports.models import (
    AuditStatus,
    CallFigures,
    ComplianceReport,
    FacilityReport,
    FlagFigures,
    FlagRuleCount,
    InmateWithoutCall,
    OfficerCount,
    ReportPeriod,
    ReportScope,
)
from wartel.reports.period import Period
from wartel.reports.queries import load_queries

COMPLETED = ("completed", "time_limited")
CANCEL_REASONS = ("inmate", "family", "facility", "technical")
DEFAULT_NO_CALL_DAYS = 14

Q = load_queries(Path(__file__).with_name("compliance.sql"))


@contextlib.asynccontextmanager
async def _snapshot(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """All sections read one snapshot, so the totals agree with the rows."""
    if conn.is_in_transaction():
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # The medians sort a month of calls; let that sort stay in memory for this transaction only.
        await conn.execute("SET LOCAL work_mem = '64MB'")
        yield


async def scope_for_region(conn: asyncpg.Connection, region_id: int) -> tuple[ReportScope, list[dict[str, Any]]]:
    region = await conn.fetchrow("SELECT id, code, name FROM regions WHERE id = $1", region_id)
    if region is None:
        raise NotFound(f"region {region_id} not found", code="region_not_found", field="region_id")
    facilities = await conn.fetch(
        "SELECT id, code, name, time_zone FROM facilities WHERE region_id = $1 ORDER BY code", region_id)
    scope = ReportScope(kind="region", region_id=region["id"], region_code=region["code"],
                        region_name=region["name"])
    return scope, [dict(f) for f in facilities]


async def scope_for_facility(conn: asyncpg.Connection,
                             facility_id: int) -> tuple[ReportScope, list[dict[str, Any]]]:
    row = await conn.fetchrow(
        "SELECT f.id, f.code, f.name, f.time_zone, r.id AS region_id, r.code AS region_code, r.name AS region_name"
        " FROM facilities f JOIN regions r ON r.id = f.region_id WHERE f.id = $1", facility_id)
    if row is None:
        raise NotFound(f"facility {facility_id} not found", code="facility_not_found", field="facility_id")
    scope = ReportScope(kind="facility", region_id=row["region_id"], region_code=row["region_code"],
                        region_name=row["region_name"], facility_id=row["id"], facility_code=row["code"])
    return scope, [{k: row[k] for k in ("id", "code", "name", "time_zone")}]


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(calls: asyncpg.Record | None, active: int, entitled: int, bookings: dict[str, Any],
             open_s: float) -> dict[str, Any]:
    with_call = calls["inmates_with_call"] if calls else 0
    used_s = calls["booth_used_s"] if calls else 0.0
    median = calls["median_s"] if calls else None
    return {
        "active_inmates": active,
        "entitled_inmates": entitled,
        "inmates_with_call": with_call,
        "rights_fulfilment": _ratio(with_call, entitled),
        "calls_completed": calls["calls_completed"] if calls else 0,
        "minutes": round((calls["completed_s"] if calls else 0.0) / 60, 1),
        "median_duration_s": round(median, 1) if median is not None else None,
        "cut_offs": calls["cut_offs"] if calls else 0,
        "technical_failures": calls["technical_failures"] if calls else 0,
        "not_answered": calls["not_answered"] if calls else 0,
        "no_shows": bookings["no_shows"],
        "cancellations": bookings["cancellations"],
        "overrides": bookings["overrides"],
        "booth_hours_open": round(open_s / 3600, 1),
        "booth_hours_used": round(used_s / 3600, 1),
        "booth_utilisation": _ratio(used_s, open_s),
    }


def _held(row: asyncpg.Record | None) -> tuple[int, int]:
    return (row["active_inmates"], row["entitled_inmates"]) if row else (0, 0)


def _empty_bookings() -> dict[str, Any]:
    return {"no_shows": 0, "cancellations": dict.fromkeys(CANCEL_REASONS, 0), "overrides": 0}


async def compliance_report(conn: asyncpg.Connection, *, period: Period, region_id: int | None = None,
                            facility_id: int | None = None,
                            no_call_days: int = DEFAULT_NO_CALL_DAYS) -> ComplianceReport:
    """The report for one facility or every facility of a region. Scope checks are the caller's."""
    if (region_id is None) == (facility_id is None):
        raise ValueError("give a region or a facility")
    async with _snapshot(conn):
        if region_id is not None:
            scope, facilities = await scope_for_region(conn, region_id)
        else:
            scope, facilities = await scope_for_facility(conn, facility_id)  # type: ignore[arg-type]
        ids = [f["id"] for f in facilities]
        args = (ids, period.start, period.end)

        call_rows = await conn.fetch(Q["calls"], *args)
        by_facility_calls = {r["facility_id"]: r for r in call_rows if not r["is_total"]}
        total_calls = next((r for r in call_rows if r["is_total"]), None)

        bookings: dict[int, dict[str, Any]] = {fid: _empty_bookings() for fid in ids}
        for r in await conn.fetch(Q["bookings"], *args):
            b = bookings[r["facility_id"]]
            if r["status"] == "no_show":
                b["no_shows"] += r["n"]
            elif r["status"] == "cancelled":
                b["cancellations"][r["cancel_reason"]] = b["cancellations"].get(r["cancel_reason"], 0) + r["n"]
            if r["is_override"]:
                b["overrides"] += r["n"]

        inmate_rows = await conn.fetch(Q["inmates"], *args)
        held = {r["facility_id"]: r for r in inmate_rows if not r["is_total"]}
        held_total = next((r for r in inmate_rows if r["is_total"]), None)
        open_s = {r["facility_id"]: r["open_s"] * r["booths"] for r in await conn.fetch(Q["booth_time"], *args)}

        audit_section = await _audit_status(conn, ids)
        flags_by_facility = {r["facility_id"]: r for r in await conn.fetch(Q["flags_by_facility"], *args)}
        flag_totals = await conn.fetchrow(Q["flags_totals"], *args, region_id)
        by_rule = [FlagRuleCount(**dict(r)) for r in await conn.fetch(Q["flags_by_rule"], *args, region_id)]

        facility_reports: list[FacilityReport] = []
        for f in facilities:
            fid = f["id"]
            active, entitled = _held(held.get(fid))
            figures = _figures(by_facility_calls.get(fid), active, entitled, bookings[fid], open_s.get(fid, 0.0))
            facility_reports.append(FacilityReport(
                facility_id=fid, code=f["code"], name=f["name"], time_zone=f["time_zone"], **figures,
                flags=_flag_figures(flags_by_facility.get(fid)),
                audit=audit_section.get(fid, AuditStatus(entries=0, last_checkpoint_at=None,
                                                          last_checkpoint_size=None, last_verified_at=None,
                                                          last_verification_ok=None))))

        sum_bookings = _empty_bookings()
        for b in bookings.values():
            sum_bookings["no_shows"] += b["no_shows"]
            sum_bookings["overrides"] += b["overrides"]
            for reason, n in b["cancellations"].items():
                sum_bookings["cancellations"][reason] = sum_bookings["cancellations"].get(reason, 0) + n
        # An inmate moved within the scope is one person: the total counts him once (rows: each facility).
        totals = CallFigures(**_figures(total_calls, *_held(held_total), sum_bookings, sum(open_s.values())))

        without_call = [InmateWithoutCall(**dict(r))
                        for r in await conn.fetch(Q["without_call"], *args, no_call_days)]
        cut_offs = [OfficerCount(**dict(r)) for r in await conn.fetch(Q["cut_offs_by_officer"], *args)]
        overrides = [OfficerCount(**dict(r)) for r in await conn.fetch(Q["overrides_by_officer"], *args)]

    return ComplianceReport(
        scope=scope, period=ReportPeriod(start=period.start, end=period.end, label=period.label),
        generated_at=datetime.now(UTC), no_call_days=no_call_days, totals=totals,
        flag_totals=_flag_figures(flag_totals, by_rule), facilities=facility_reports,
        inmates_without_call=without_call, cut_offs_by_officer=cut_offs, overrides_by_officer=overrides)


def _flag_figures(row: asyncpg.Record | None, by_rule: list[FlagRuleCount] | None = None) -> FlagFigures:
    if row is None:
        return FlagFigures(raised=0, reviewed=0, median_review_hours=None, open_backlog=0, by_rule=by_rule or [])
    median = row["median_review_hours"]
    return FlagFigures(raised=row["raised"], reviewed=row["reviewed"],
                       median_review_hours=round(median, 1) if median is not None else None,
                       open_backlog=row["open_backlog"], by_rule=by_rule or [])


async def _audit_status(conn: asyncpg.Connection, ids: list[int]) -> dict[int, AuditStatus]:
    """Each facility log's size, last signed checkpoint and last verification (the audit area's records)."""
    refs = [LogRef.facility(fid) for fid in ids]
    logs = {r["scope_id"]: r for r in await conn.fetch(
        "SELECT log_id, scope_id, size FROM audit.logs WHERE scope = 'facility' AND scope_id = ANY($1::bigint[])",
        ids)}
    verified = await verification_status(conn, refs)
    status: dict[int, AuditStatus] = {}
    for ref in refs:
        log = logs.get(ref.scope_id)
        checkpoint = await latest_checkpoint(conn, log["log_id"]) if log else None
        v = verified.get(ref)
        status[ref.scope_id] = AuditStatus(
            entries=log["size"] if log else 0,
            last_checkpoint_at=checkpoint.signed_at if checkpoint else None,
            last_checkpoint_size=checkpoint.size if checkpoint else None,
            last_verified_at=v.verified_at if v else None, last_verification_ok=v.ok if v else None,
            last_verification_detail=v.detail if v else None)
    return status
