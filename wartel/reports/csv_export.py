"""CSV downloads of the report: one section per file, so each opens cleanly in a spreadsheet.

Two flavours of one table. The API's and the CLI's are for programs: comma-separated, English column
names, UTC ISO timestamps. The pages' (``spreadsheet=True``) is for a regional office opening it as it is
in a spreadsheet set to Indonesian: ``;`` between cells (the list separator of locales whose decimal mark
is a comma), a UTF-8 byte-order mark (so names keep their letters), column names and ``ya``/``tidak`` in
the page's language, decimals with the language's mark and times in each facility's own zone to the
minute. CSV rather than XLSX: no new dependency, the same rows as the API's, and it opens in any program.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from wartel.i18n import t
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


def report_csv(report: ComplianceReport, section: str = "facilities", *, spreadsheet: bool = False,
               lang: str = "id") -> str:
    """The section as CSV; ``spreadsheet`` for the office's spreadsheet (see the module's docstring)."""
    if section not in SECTIONS:
        raise ValueError(section)
    out = io.StringIO()
    if not spreadsheet:
        writer = csv.writer(out, lineterminator="\r\n")
        for row in _rows(report, section):
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    zones = {f.code: f.time_zone for f in report.facilities}
    rows = iter(_rows(report, section))
    header = next(rows)
    writer.writerow([t(lang, f"csv.{name}", name) for name in header])
    zone_of = header.index("time_zone") if "time_zone" in header else None
    code_of = header.index("facility_code") if "facility_code" in header else None
    for row in rows:
        row = [t(lang, "csv.total") if v == "TOTAL" else v for v in row]
        zone = row[zone_of] if zone_of is not None else zones.get(row[code_of]) if code_of is not None else None
        writer.writerow([_cell(_local_cell(v, zone or "Asia/Jakarta", lang)) for v in row])
    return "\ufeff" + out.getvalue()


def _local_cell(value: Any, zone: str, lang: str) -> Any:
    """A value as a spreadsheet in ``lang`` reads it: local time to the minute, the decimal mark, yes/no."""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return t(lang, "label.yes" if value else "label.no")
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if lang == "id" else text
    return value


def csv_filename(report: ComplianceReport, section: str) -> str:
    who = report.scope.facility_code or report.scope.region_code
    return f"compliance-{who}-{report.period.label.replace('..', '_')}-{section}.csv"
