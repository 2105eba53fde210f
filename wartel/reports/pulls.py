"""Who pulled which report: every pull appends to the region's audit log."""

from __future__ import annotations

import asyncpg

from audit import Actor, LogRef, append
from wartel.reports.models import ReportScope
from wartel.reports.period import Period


async def record_pull(conn: asyncpg.Connection, scope: ReportScope, period: Period, fmt: str, *, actor: Actor,
                      stored: bool = False) -> None:
    """Append ``report.pulled`` to the region's log; ids and the period only, never the report's names."""
    payload = {"kind": scope.kind, "region_id": scope.region_id, "facility_id": scope.facility_id,
               "period": period.label, "format": fmt, "stored": stored}
    subject = f"{scope.region_id}:{scope.facility_id or '*'}:{period.label}"
    if conn.is_in_transaction():
        await append(conn, LogRef.region(scope.region_id), action="report.pulled",
                     subject_type="compliance_report", subject_id=subject, payload=payload, actor=actor)
        return
    async with conn.transaction():
        await append(conn, LogRef.region(scope.region_id), action="report.pulled",
                     subject_type="compliance_report", subject_id=subject, payload=payload, actor=actor)
