"""CSV downloads of the report: one section per file, so each opens cleanly in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from wartel.reports.compliance import CANCEL_REASONS
from wartel.reports.models import CallFigures, ComplianceReport

SECTIONS = ("facilities", "inmates_without_call", "cut_offs_by_officer", "overrides_by_officer")

_FIGURES = ("active_inmates", "entitled_inmates", "inmates_with_call", "rights_fulfilment", "calls_completed",
            "minutes", "median_duration_s", "cut_offs", "technical_failures", "not_answered", "no_shows",
            "overrides", "booth_hours_open", "booth_hours_used", "booth_utilisation")
_FLAGS = ("flags_raised", "flags_reviewed", "flags_median_review_hours", "flags_open_backlog")
_AUDIT = ("audit_entries", "audit_last_checkpoint_at", "audit_last_verified_at", "audit_last_verification_ok")


def _cell(value: Any) -> Any:
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection); names come from
    # registration forms, so neutralise them.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if value is None:
        return ""
    return value


def _figure_cells(f: CallFigures) -> list[Any]:
    return [getattr(f, k) for k in _FIGURES] + [f.cancellations.get(r, 0) for r in CANCEL_REASONS]


def _rows(report: ComplianceReport, section: str) -> Iterable[list[Any]]:
    if section == "facilities":
        yield (["period", "facility_code", "facility_name", "time_zone", *_FIGURES,
                *(f"cancelled_{r}" for r in CANCEL_REASONS), *_FLAGS, *_AUDIT])
        for f in report.facilities:
            flags = ([f.flags.raised, f.flags.reviewed, f.flags.median_review_hours, f.flags.open_backlog]
                     if f.flags else [None] * len(_FLAGS))
            audit = ([f.audit.entries, f.audit.last_checkpoint_at, f.audit.last_verified_at,
                      f.audit.last_verification_ok] if f.audit else [None] * len(_AUDIT))
            yield [report.period.label, f.code, f.name, f.time_zone, *_figure_cells(f), *flags, *audit]
        total_flags = report.flag_totals
        yield [report.period.label, "TOTAL", report.scope.region_name, "", *_figure_cells(report.totals),
               *([total_flags.raised, total_flags.reviewed, total_flags.median_review_hours,
                  total_flags.open_backlog] if total_flags else [None] * len(_FLAGS)),
               *([None] * len(_AUDIT))]
    elif section == "inmates_without_call":
        yield ["facility_code", "registration_no", "full_name", "last_call_at", "days_without_call"]
        for i in report.inmates_without_call:
            yield [i.facility_code, i.registration_no, i.full_name, i.last_call_at, i.days_without_call]
    else:
        yield ["facility_code", "username", "full_name", "count"]
        for o in getattr(report, section):
            yield [o.facility_code, o.username, o.full_name, o.count]


def report_csv(report: ComplianceReport, section: str = "facilities") -> str:
    if section not in SECTIONS:
        raise ValueError(section)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in _rows(report, section):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def csv_filename(report: ComplianceReport, section: str) -> str:
    who = report.scope.facility_code or report.scope.region_code
    return f"compliance-{who}-{report.period.label.replace('..', '_')}-{section}.csv"
