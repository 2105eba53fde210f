"""`wartel report compliance` prints the same report as the API and audits the pull."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests import reports_data as rd
from wartel.cli import build_parser
from wartel.config import Settings
from wartel.reports.cli import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, cmd_report_compliance


async def test_cli_prints_json_csv_and_html(factory, owner_conn, database, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    rid = await factory.region("SUMBAR")
    fid = await factory.facility(rid, code="LP-BUKITTINGGI")
    booth = await factory.booth(fid)
    inmate = await factory.inmate(fid)
    await rd.call(owner_conn, fid, booth, inmate, await factory.contact(inmate), datetime(2026, 1, 9, 3, tzinfo=UTC))
    settings = Settings(database_url=database.owner_dsn, data_dir=tmp_path, demo=False, scheduler=False)

    def run(*argv: str) -> int:
        args = build_parser().parse_args(["report", "compliance", *argv])
        return cmd_report_compliance(args, settings)

    # The command runs its own event loop, as it does from a shell.
    code = await asyncio.to_thread(run, "--region", "SUMBAR", "--month", "2026-01", "--format", "csv")
    assert code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["facility_code"] == "LP-BUKITTINGGI" and rows[0]["calls_completed"] == "1"

    out = tmp_path / "report.html"
    code = await asyncio.to_thread(run, "--facility", "LP-BUKITTINGGI", "--quarter", "2026-Q1", "--format", "html",
                                   "--lang", "en", "-o", str(out))
    assert code == EXIT_OK
    assert "Compliance Report" in out.read_text() and "<svg" in out.read_text()

    assert await asyncio.to_thread(run, "--region", "NOPE", "--month", "2026-01") == EXIT_NOT_FOUND
    assert await asyncio.to_thread(run, "--region", "SUMBAR", "--month", "2026-1") == EXIT_USAGE
    pulls = await owner_conn.fetch("SELECT payload, actor_id FROM audit.entries WHERE action = 'report.pulled'")
    assert [p["payload"]["format"] for p in pulls] == ["csv:facilities", "html"]
    assert all(p["actor_id"].startswith("cli:") for p in pulls)
