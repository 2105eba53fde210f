"""The printable A4 report: one self-contained HTML file (inline CSS, inline SVG charts, one hashed script: print)."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from typing import Any

from markupsafe import Markup

from wartel.i18n import t
from wartel.pages.templating import render_template
from wartel.reports.charts import bar_chart, percent
from wartel.reports.compliance import CANCEL_REASONS
from wartel.reports.models import ComplianceReport

# The file is meant to be saved and printed: styles inline, nothing loaded, and nothing executed but the
# print button's one line, allowed by its hash (CSP), so a name in the report can never run as a script.
PRINT_SCRIPT = "document.getElementById('print').addEventListener('click', function () { window.print(); });"
_PRINT_HASH = base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
REPORT_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{_PRINT_HASH}'; "
              "frame-ancestors 'none'")


def report_charts(report: ComplianceReport, lang: str) -> list[Markup]:
    rows = report.facilities
    missing = t(lang, "report.chart.missing")
    return [
        bar_chart(t(lang, "report.chart.fulfilment"), [(f.code, f.rights_fulfilment) for f in rows],
                  max_value=1.0, fmt=percent, target=1.0, target_label=t(lang, "report.chart.target_all"),
                  missing=missing),
        bar_chart(t(lang, "report.chart.utilisation"), [(f.code, f.booth_utilisation) for f in rows],
                  max_value=1.0, fmt=percent, missing=missing),
        bar_chart(t(lang, "report.chart.calls"), [(f.code, float(f.calls_completed)) for f in rows],
                  fmt=lambda v: f"{v:,.0f}".replace(",", "." if lang == "id" else ","), missing=missing),
    ]


def _officers(report: ComplianceReport) -> list[dict[str, Any]]:
    merged: dict[tuple[int, int], dict[str, Any]] = {}
    for kind, counts in (("cut_offs", report.cut_offs_by_officer), ("overrides", report.overrides_by_officer)):
        for o in counts:
            row = merged.setdefault((o.facility_id, o.user_id), {
                "facility_code": o.facility_code, "username": o.username, "full_name": o.full_name,
                "cut_offs": 0, "overrides": 0})
            row[kind] += o.count
    return sorted(merged.values(), key=lambda r: (-(r["cut_offs"] + r["overrides"]), r["facility_code"],
                                                   r["username"]))


def _report_zone(report: ComplianceReport) -> str:
    """The zone the report's readers live in: the one most of its facilities keep (WIB when it has none)."""
    zones = Counter(f.time_zone for f in report.facilities).most_common(1)
    return zones[0][0] if zones else "Asia/Jakarta"


def report_html(report: ComplianceReport, lang: str, *, stored: bool = False) -> str:
    charts = report_charts(report, lang)
    titled = [Markup(f'<figure><figcaption>{Markup.escape(t(lang, key))}</figcaption>{chart}</figure>')
              for key, chart in zip(("report.chart.fulfilment", "report.chart.utilisation", "report.chart.calls"),
                                    charts, strict=True)]
    return render_template("reports/compliance.html", lang, report=report, charts=titled, stored=stored,
                           print_script=Markup(PRINT_SCRIPT), viewer_tz=_report_zone(report),
                           cancel_reasons=CANCEL_REASONS, officers=_officers(report),
                           zones={f.facility_id: f.time_zone for f in report.facilities})
