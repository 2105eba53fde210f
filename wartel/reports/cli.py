"""``wartel report compliance`` and ``wartel report store-monthly``: reports from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import date
from pathlib import Path
from typing import Any

from audit import Actor
from wartel import migrations
from wartel.commands import command
from wartel.config import Settings
from wartel.db import connect, resolve_target
from wartel.reports.archive import store_monthly_report
from wartel.reports.compliance import compliance_report
from wartel.reports.csv_export import report_csv
from wartel.reports.period import month_period, resolve_period
from wartel.reports.pulls import record_pull

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND = 0, 2, 3


def add_report_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="compliance reports").add_subparsers(dest="sub", required=True,
                                                                              metavar="ACTION")
    p = report.add_parser("compliance", help="print a compliance report for a region or a facility")
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--region", help="region code, e.g. SUMBAR")
    scope.add_argument("--facility", help="facility code, for one facility only")
    period = p.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="YYYY-MM")
    period.add_argument("--quarter", help="YYYY-Qn")
    period.add_argument("--from", dest="start", type=date.fromisoformat, help="first day YYYY-MM-DD (with --to)")
    p.add_argument("--to", dest="end", type=date.fromisoformat, help="last day YYYY-MM-DD, inclusive")
    p.add_argument("--format", choices=["json", "csv", "html"], default="json")
    p.add_argument("--section", default="facilities",
                   choices=["facilities", "inmates_without_call", "cut_offs_by_officer", "overrides_by_officer"],
                   help="CSV only: which table")
    p.add_argument("--no-call-days", type=int, default=14)
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.add_argument("--lang", choices=["id", "en"], default="id", help="language of the HTML report")
    p.set_defaults(cmd="report compliance")

    p = report.add_parser("store-monthly", help="compute and keep a region's monthly report now (once per month)")
    p.add_argument("--region", required=True, help="region code")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.set_defaults(cmd="report store-monthly")


def _actor() -> Any:
    # The operator's OS account is what we know at a console; the pull is audited like a web one.
    return Actor(type="system", id=f"cli:{getpass.getuser()}", role="operator")


async def _connect(settings: Settings) -> Any:
    conn = await connect(resolve_target(settings).owner_dsn)
    await migrations.migrate(conn)
    return conn


@command("report compliance")
def cmd_report_compliance(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> tuple[int, str]:
        try:
            period = resolve_period(month=args.month, quarter=args.quarter, start=args.start, end=args.end)
        except Exception as exc:
            print(f"error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return EXIT_USAGE, ""
        conn = await _connect(settings)
        try:
            if args.region:
                found = await conn.fetchval("SELECT id FROM regions WHERE code = $1", args.region)
            else:
                found = await conn.fetchval("SELECT id FROM facilities WHERE code = $1", args.facility)
            if found is None:
                what = f"region {args.region}" if args.region else f"facility {args.facility}"
                print(f"error: no {what}", file=sys.stderr)
                return EXIT_NOT_FOUND, ""
            report = await compliance_report(
                conn, period=period, region_id=found if args.region else None,
                facility_id=found if args.facility else None, no_call_days=args.no_call_days)
            fmt = f"csv:{args.section}" if args.format == "csv" else args.format
            await record_pull(conn, report.scope, period, fmt, actor=_actor())
        finally:
            await conn.close()
        if args.format == "csv":
            text = report_csv(report, args.section)
        elif args.format == "html":
            # Imported here: the HTML report loads the page templates (and aiohttp), which CSV and JSON do not need.
            from wartel.reports.html import report_html

            text = report_html(report, args.lang)
        else:
            text = report.model_dump_json(indent=2) + "\n"
        return EXIT_OK, text

    code, text = asyncio.run(go())
    if code == EXIT_OK:
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    return code


@command("report store-monthly")
def cmd_report_store_monthly(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        try:
            period = month_period(args.month)
        except Exception as exc:
            print(f"error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return EXIT_USAGE
        conn = await _connect(settings)
        try:
            region_id = await conn.fetchval("SELECT id FROM regions WHERE code = $1", args.region)
            if region_id is None:
                print(f"error: no region with code {args.region}", file=sys.stderr)
                return EXIT_NOT_FOUND
            stored = await store_monthly_report(conn, region_id, period, actor=_actor())
        finally:
            await conn.close()
        print(f"stored {args.region} {period.label}" if stored else f"already stored: {args.region} {period.label}")
        return EXIT_OK

    return asyncio.run(go())
