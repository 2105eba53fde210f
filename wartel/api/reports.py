"""Compliance reports: computed on request (JSON, CSV, printable HTML) or from the monthly archive."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.reports.archive import stored_months
from wartel.reports.csv_export import csv_filename, report_csv
from wartel.reports.html import REPORT_CSP, report_html
from wartel.reports.models import ComplianceReport
from wartel.reports.period import MONTH_PATTERN
from wartel.reports.service import (
    ARCHIVE_ROLES,
    REPORT_ROLES,
    ComplianceCsvQuery,
    ComplianceQuery,
    SectionQuery,
    pull_compliance_report,
    pull_stored_report,
    resolve_scope,
)

routes = EndpointTable()

_CSV = {"text/csv": {"schema": {"type": "string"}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_ABOUT = ("Counted in each facility's own time zone. Every pull is recorded in the region's audit log. "
          "Give `region_id` or `facility_id` (default: your own scope) and one of `month`, `quarter`, "
          "or `from` and `to`.")


def csv_response(report: ComplianceReport, section: str, *, spreadsheet_lang: str | None = None) -> web.Response:
    """The CSV download; with ``spreadsheet_lang`` the flavour a spreadsheet in that language opens as it is."""
    text = report_csv(report, section, spreadsheet=spreadsheet_lang is not None, lang=spreadsheet_lang or "id")
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{csv_filename(report, section)}"'})


def html_response(report: ComplianceReport, lang: str, *, stored: bool = False) -> web.Response:
    name = csv_filename(report, "report").replace("-report.csv", ".html")
    return web.Response(text=report_html(report, lang, stored=stored), content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": REPORT_CSP,
                                 "Content-Disposition": f'inline; filename="{name}"'})


@routes.get("/api/v1/reports/compliance", cost="heavy", summary="Compliance report for a region or a facility (JSON)",
            description=_ABOUT, tags=["reports"], roles=REPORT_ROLES, query=ComplianceQuery,
            response=ComplianceReport, errors=(400, 404, 422))
async def compliance(req: web.Request, ctx: Ctx) -> ComplianceReport:
    report, _ = await pull_compliance_report(ctx.db, ctx.user, ctx.query, actor=ctx.actor, fmt="json")
    return report


@routes.get("/api/v1/reports/compliance.csv", cost="heavy", summary="Compliance report, one table as CSV",
            description=_ABOUT, tags=["reports"], roles=REPORT_ROLES, query=ComplianceCsvQuery,
            response_content=_CSV, errors=(400, 404, 422))
async def compliance_csv(req: web.Request, ctx: Ctx) -> web.Response:
    report, _ = await pull_compliance_report(ctx.db, ctx.user, ctx.query, actor=ctx.actor,
                                             fmt=f"csv:{ctx.query.section}")
    return csv_response(report, ctx.query.section)


@routes.get("/api/v1/reports/compliance.html", cost="heavy", summary="Compliance report, printable A4 HTML with SVG charts",
            description=_ABOUT, tags=["reports"], roles=REPORT_ROLES, query=ComplianceQuery,
            response_content=_HTML, errors=(400, 404, 422))
async def compliance_html(req: web.Request, ctx: Ctx) -> web.Response:
    report, _ = await pull_compliance_report(ctx.db, ctx.user, ctx.query, actor=ctx.actor, fmt="html")
    return html_response(report, ctx.language)


class StoredQuery(QueryModel):
    region_id: int | None = Field(default=None, ge=1, description="Defaults to your own region.")


class StoredMonth(OutModel):
    month: str
    generated_at: datetime
    generated_by: str


class StoredList(OutModel):
    region_id: int
    items: list[StoredMonth]


@routes.get("/api/v1/reports/monthly", summary="The monthly reports stored for a region", tags=["reports"],
            roles=ARCHIVE_ROLES, query=StoredQuery, response=StoredList, errors=(404,))
async def monthly_list(req: web.Request, ctx: Ctx) -> StoredList:
    region_id, _ = await resolve_scope(ctx.db, ctx.user, ctx.query.region_id, None)
    assert region_id is not None  # archive readers are regional or admin: never facility-scoped
    rows = await stored_months(ctx.db, region_id)
    return StoredList(region_id=region_id, items=[
        StoredMonth(month=f"{r['month']:%Y-%m}", generated_at=r["generated_at"], generated_by=r["generated_by"])
        for r in rows])


class StoredPath(ApiModel):
    region_id: int = Field(ge=1)
    month: str = Field(pattern=MONTH_PATTERN)


@routes.get("/api/v1/reports/monthly/{region_id}/{month}.csv", summary="One stored monthly report, one table as CSV",
            tags=["reports"], roles=ARCHIVE_ROLES, path_params=StoredPath, query=SectionQuery,
            response_content=_CSV, errors=(404,))
async def monthly_report_csv(req: web.Request, ctx: Ctx) -> web.Response:
    report, _ = await pull_stored_report(ctx.db, ctx.user, ctx.path.region_id, ctx.path.month, actor=ctx.actor,
                                         fmt=f"csv:{ctx.query.section}")
    return csv_response(report, ctx.query.section)


@routes.get("/api/v1/reports/monthly/{region_id}/{month}.html", summary="One stored monthly report, printable HTML",
            tags=["reports"], roles=ARCHIVE_ROLES, path_params=StoredPath, response_content=_HTML, errors=(404,))
async def monthly_report_html(req: web.Request, ctx: Ctx) -> web.Response:
    report, _ = await pull_stored_report(ctx.db, ctx.user, ctx.path.region_id, ctx.path.month, actor=ctx.actor,
                                         fmt="html")
    return html_response(report, ctx.language, stored=True)


# Registered after the .csv and .html routes: {month} would otherwise swallow '2026-01.csv'.
@routes.get("/api/v1/reports/monthly/{region_id}/{month}", summary="One stored monthly report, as produced (JSON)",
            tags=["reports"], roles=ARCHIVE_ROLES, path_params=StoredPath, response=ComplianceReport, errors=(404,))
async def monthly_report(req: web.Request, ctx: Ctx) -> ComplianceReport:
    report, _ = await pull_stored_report(ctx.db, ctx.user, ctx.path.region_id, ctx.path.month, actor=ctx.actor,
                                         fmt="json")
    return report
