"""The regional office: a dashboard across its facilities, and the report downloads."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from wartel.api.reports import csv_response, html_response
from wartel.errors import InvalidInput
from wartel.pages.framework import PageCtx, add_nav, page
from wartel.reports.archive import stored_months
from wartel.reports.compliance import compliance_report
from wartel.reports.html import report_charts
from wartel.reports.period import Period, month_period, previous_month
from wartel.reports.service import (
    ARCHIVE_ROLES,
    REPORT_ROLES,
    ComplianceCsvQuery,
    pull_compliance_report,
    pull_stored_report,
)
from wartel.scope import Act, roles
from wartel.usecases import directory

routes = web.RouteTableDef()
DASHBOARD_ROLES = roles(Act.REPORT)


def setup() -> None:
    add_nav("nav.regional", "/regional", ("regional", "admin"))
    add_nav("nav.reports", "/reports", REPORT_ROLES)


def _today_wib() -> datetime:
    # The regional office's "today": WIB is the westernmost zone, so no facility is already in tomorrow's
    # month when WIB is not.
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta"))


async def _regions_for(pc: PageCtx) -> list[dict]:
    return await directory.regions_in_view(pc.conn, pc.scope)


async def _chosen_region(pc: PageCtx, regions: list[dict]) -> int | None:
    raw = pc.request.query.get("region_id")
    if raw:
        if not raw.isdigit():
            raise InvalidInput("region_id must be a number", code="validation_failed", field="region_id")
        await pc.scope.require_region(pc.conn, int(raw))
        return int(raw)
    return regions[0]["id"] if regions else None


@routes.get("/regional", name="page_regional")
@page(*DASHBOARD_ROLES, heavy=True)
async def dashboard(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Month to date across the region's facilities, with charts and links to the full reports."""
    if pc.user.role == "security" and pc.user.facility_id is not None:
        raise web.HTTPFound("/reports")
    regions = await _regions_for(pc)
    region_id = await _chosen_region(pc, regions)
    if region_id is None:
        return pc.render("regional/dashboard.html", regions=regions, region=None, report=None, charts=[],
                         stored=[], this_month=None, last_month=None)
    today = _today_wib().date()
    this_month = month_period(f"{today:%Y-%m}")
    to_date = Period(this_month.start, today, this_month.label)
    report = await compliance_report(pc.conn, period=to_date, region_id=region_id)
    # _chosen_region required the region to be in view, and regions_in_view lists every region in view.
    region = next(r for r in regions if r["id"] == region_id)
    stored = await stored_months(pc.conn, region_id)
    return pc.render("regional/dashboard.html", regions=regions, region=region, report=report,
                     charts=report_charts(report, pc.language), stored=stored, this_month=this_month,
                     last_month=previous_month(today), period=to_date)


@routes.get("/reports", name="page_reports")
@page(*REPORT_ROLES)
async def reports_index(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """The form to pull any report, and the archive of monthly reports."""
    regions = await _regions_for(pc)
    region_id = None
    if pc.user.facility_id is None:
        region_id = await _chosen_region(pc, regions)
    facilities = await directory.facilities_in_view(pc.conn, pc.scope, region_id=region_id)
    stored = (await stored_months(pc.conn, region_id)
              if region_id is not None and pc.scope.may(Act.ARCHIVE) else [])
    today = _today_wib().date()
    return pc.render("reports/index.html", regions=regions, region_id=region_id, facilities=facilities,
                     stored=stored, default_month=f"{previous_month(today).start:%Y-%m}",
                     sections=ComplianceCsvQuery.model_fields["section"].annotation.__args__)


def _query_from(req: web.Request) -> tuple[ComplianceCsvQuery, str]:
    """The report form's fields; empty ones are left out, and the period kind picks which apply."""
    raw = {k: v for k, v in req.query.items() if v != ""}
    fmt = raw.pop("format", "html")
    kind = raw.pop("period", None)
    keep = {"month": ("month",), "quarter": ("quarter",), "range": ("from", "to")}.get(kind or "")
    if keep is not None:
        for other in ("month", "quarter", "from", "to"):
            if other not in keep:
                raw.pop(other, None)
    scope = raw.pop("scope", None)
    if scope:
        if scope.startswith("f:"):
            raw["facility_id"] = scope[2:]
        elif scope.startswith("r:"):
            raw["region_id"] = scope[2:]
    if fmt not in ("html", "csv", "json"):
        raise InvalidInput("format must be html, csv or json", code="validation_failed", field="format")
    try:
        return ComplianceCsvQuery.model_validate(raw), fmt
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(f"{field}: {first['msg']}", code="validation_failed", field=field) from exc


@routes.get("/reports/compliance", name="page_report_compliance")
@page(*REPORT_ROLES, heavy=True)
async def report_view(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """The report as asked in the form: the printable page, or a CSV or JSON download."""

    q, fmt = _query_from(req)
    report, _ = await pull_compliance_report(pc.conn, pc.user, q, actor=pc.actor,
                                             fmt=f"csv:{q.section}" if fmt == "csv" else fmt)
    if fmt == "csv":
        return csv_response(report, q.section, spreadsheet_lang=pc.language)
    if fmt == "json":
        name = f"compliance-{report.scope.facility_code or report.scope.region_code}-{report.period.label}.json"
        return web.Response(text=report.model_dump_json(indent=2), content_type="application/json",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return html_response(report, pc.language)


@routes.get("/reports/monthly/{region_id:\\d+}/{month:\\d{4}-\\d{2}}", name="page_report_monthly")
@page(*ARCHIVE_ROLES)
async def stored_view(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    fmt = req.query.get("format", "html")
    section = req.query.get("section", "facilities")
    if fmt not in ("html", "csv") or section not in ComplianceCsvQuery.model_fields["section"].annotation.__args__:
        raise InvalidInput("format must be html or csv", code="validation_failed", field="format")
    report, _ = await pull_stored_report(pc.conn, pc.user, int(req.match_info["region_id"]),
                                         req.match_info["month"], actor=pc.actor,
                                         fmt=f"csv:{section}" if fmt == "csv" else fmt)
    if fmt == "csv":
        return csv_response(report, section, spreadsheet_lang=pc.language)
    return html_response(report, pc.language, stored=True)
