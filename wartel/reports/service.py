"""Pulling a report on someone's behalf: scope checks, the period, the figures and the audit record.

The API, the pages and the CLI all come through here, so every pull is scoped and audited the same way.
"""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
from pydantic import Field, WithJsonSchema

from audit import Actor
from wartel.auth.principal import Principal
from wartel.errors import InvalidInput
from wartel.http.bounds import BoundedDate
from wartel.http.models import QueryModel
from wartel.reports.archive import stored_report
from wartel.reports.compliance import DEFAULT_NO_CALL_DAYS, compliance_report
from wartel.reports.models import ComplianceReport
from wartel.reports.period import (
    MAX_DAYS,
    MONTH_PATTERN,
    QUARTER_PATTERN,
    Period,
    month_period,
    resolve_period,
)
from wartel.reports.pulls import record_pull
from wartel.scope import Act, require_facility, require_region, roles

REPORT_ROLES = roles(Act.REPORT)
# The monthly archive is the regional office's record; security staff pull live reports instead.
ARCHIVE_ROLES = roles(Act.ARCHIVE)


_Month = Annotated[str, WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "maxLength": 7})]
_Quarter = Annotated[str, WithJsonSchema({"type": "string", "pattern": QUARTER_PATTERN, "maxLength": 7})]


class ComplianceQuery(QueryModel):
    """Which report: a region or one facility; a month, a quarter or a date range."""

    region_id: int | None = Field(default=None, ge=1, description="Defaults to your own region.")
    facility_id: int | None = Field(default=None, ge=1, description="One facility instead of the region.")
    # The patterns are in the schema; the period parser checks them and answers 400 invalid_period (its
    # stable code) rather than a pattern mismatch.
    month: _Month | None = Field(default=None, description="YYYY-MM, 2000-01 to 2100-12", examples=["2026-01"])
    quarter: _Quarter | None = Field(default=None, description="YYYY-Qn, 2000 to 2100", examples=["2026-Q1"])
    from_: BoundedDate | None = Field(default=None, alias="from", description="First day (with `to`).")
    to: BoundedDate | None = Field(default=None, description=f"Last day, inclusive; at most {MAX_DAYS} days "
                                  "from `from` (a month, a quarter, a year).")
    no_call_days: int = Field(default=DEFAULT_NO_CALL_DAYS, ge=1, le=365,
                              description="List active inmates with no completed call in more than this many days.")


Section = Literal["facilities", "inmates_without_call", "cut_offs_by_officer", "overrides_by_officer"]


class ComplianceCsvQuery(ComplianceQuery):
    section: Section = Field(default="facilities", description="Which table to download.")



async def resolve_scope(conn: asyncpg.Connection, principal: Principal, region_id: int | None,
                        facility_id: int | None) -> tuple[int | None, int | None]:
    """(region_id, facility_id) with exactly one set, inside the principal's scope; 404 otherwise."""
    if region_id is not None and facility_id is not None:
        raise InvalidInput("give a region or a facility, not both", code="invalid_scope", field="facility_id")
    if facility_id is not None:
        await require_facility(conn, principal, facility_id)
        return None, facility_id
    if region_id is None:
        if principal.facility_id is not None:
            return None, principal.facility_id
        if principal.region_id is None:
            raise InvalidInput("choose a region", code="invalid_scope", field="region_id")
        region_id = principal.region_id
    await require_region(conn, principal, region_id)
    return region_id, None


def query_period(q: ComplianceQuery) -> Period:
    return resolve_period(month=q.month, quarter=q.quarter, start=q.from_, end=q.to)


async def pull_compliance_report(conn: asyncpg.Connection, principal: Principal, q: ComplianceQuery, *,
                                 actor: Actor, fmt: str = "json") -> tuple[ComplianceReport, Period]:
    """Compute the report the query names, as ``principal`` may see it, and audit the pull."""
    period = query_period(q)
    region_id, facility_id = await resolve_scope(conn, principal, q.region_id, q.facility_id)
    report = await compliance_report(conn, period=period, region_id=region_id, facility_id=facility_id,
                                     no_call_days=q.no_call_days)
    await record_pull(conn, report.scope, period, fmt, actor=actor)
    return report, period


class SectionQuery(QueryModel):
    section: Section = Field(default="facilities", description="Which table to download.")


async def pull_stored_report(conn: asyncpg.Connection, principal: Principal, region_id: int, month: str, *,
                             actor: Actor, fmt: str = "json") -> tuple[ComplianceReport, Period]:
    """A stored monthly report of a region the principal oversees; the pull is audited like any other."""
    await require_region(conn, principal, region_id)
    period = month_period(month)
    report = await stored_report(conn, region_id, period.start)
    await record_pull(conn, report.scope, period, fmt, actor=actor, stored=True)
    return report, period
