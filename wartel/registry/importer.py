"""Inmate import from a CSV export of the national inmate database: all rows or none.

Columns (header row required, any order, names exactly as below, comma or semicolon separated, UTF-8):

=================  ========  ==============================================================
registration_no    required  national registration number, 3-40 of ``A-Z a-z 0-9 . / -``
full_name          required  1-200 characters
facility_code      required  code of the facility holding the inmate (must be in your scope)
admitted_on        required  admission date, ``YYYY-MM-DD``, not in the future
block              optional  cell block, up to 40 characters
risk_level         optional  ``low``, ``medium`` (default) or ``high``
=================  ========  ==============================================================

Every row is validated before anything is written. Any error rejects the whole file with a list of
``{row, field, message}`` (``row`` is the line number in the file, the header being line 1). An
inmate already in the registry is an error: the import registers new inmates, it does not update.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from audit import Actor, LogRef, append
from wartel.auth.principal import Principal
from wartel.errors import Conflict, Unprocessable
from wartel.registry.inmates import register_date_problem
from wartel.scope import visible_facility_ids

REQUIRED = ("registration_no", "full_name", "facility_code", "admitted_on")
OPTIONAL = ("block", "risk_level")
RISK_LEVELS = ("low", "medium", "high")
MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 500
_REGISTRATION_NO = re.compile(r"^[A-Za-z0-9./-]{3,40}$")


@dataclass
class ImportRow:
    line: int
    registration_no: str
    full_name: str
    facility_code: str
    admitted_on: date
    block: str | None
    risk_level: str
    facility_id: int = 0


@dataclass
class ImportReport:
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, column: str, message: str) -> None:
        self.errors.append({"row": line, "field": column, "message": message})


class ImportRejected(Unprocessable):
    """The file was refused as a whole; ``extra['errors']`` lists every row problem found."""


def _reject(report: ImportReport) -> ImportRejected:
    shown = report.errors[:MAX_REPORTED_ERRORS]
    first = shown[0]
    return ImportRejected(
        f"{len(report.errors)} problem(s) in the file, nothing was imported; first: row {first['row']}, "
        f"{first['field']}: {first['message']}", code="import_rejected", field=first["field"],
        errors=shown, error_count=len(report.errors))


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable("the file is not UTF-8 text", code="csv_not_utf8", field="body") from exc


def parse(text: str, report: ImportReport, *, today: date | None = None) -> list[ImportRow]:
    """Rows with their field-level problems added to ``report`` (no database needed)."""
    # Rows are checked before their facilities are looked up: the date in Indonesia's easternmost zone (WIT)
    # is the latest any facility can have, so no facility's today is refused as "in the future".
    today = today or datetime.now(UTC).astimezone(ZoneInfo("Asia/Jayapura")).date()
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        report.add(1, "body", "the file is empty")
        return []
    except csv.Error as exc:
        report.add(1, "header", f"unreadable CSV: {exc}")
        return []
    for name in REQUIRED:
        if name not in header:
            report.add(1, name, "required column missing from the header")
    for name in header:
        if name not in REQUIRED + OPTIONAL:
            report.add(1, name or "header", "unknown column")
    if len(set(header)) != len(header):
        report.add(1, "header", "a column appears twice")
    if report.errors:
        return []
    rows: list[ImportRow] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank line, e.g. at the end of the file
            if len(rows) >= MAX_ROWS:
                report.add(line, "body", f"more than {MAX_ROWS} rows; split the file")
                return rows
            if len(values) != len(header):
                report.add(line, "row", f"{len(values)} values for {len(header)} columns")
                continue
            rec = {k: v.strip() for k, v in zip(header, values, strict=True)}
            row = _row(line, rec, report, today)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        report.add(reader.line_num, "row", f"unreadable CSV: {exc}")
    if not rows and not report.errors:
        report.add(2, "body", "the file has a header but no rows")
    return rows


def _row(line: int, rec: dict[str, str], report: ImportReport, today: date) -> ImportRow | None:
    before = len(report.errors)
    reg = rec["registration_no"]
    if not _REGISTRATION_NO.match(reg):
        report.add(line, "registration_no", "3 to 40 characters of letters, digits, '.', '/' or '-'")
    name = rec["full_name"]
    if not name or len(name) > 200:
        report.add(line, "full_name", "required, at most 200 characters")
    if not rec["facility_code"]:
        report.add(line, "facility_code", "required")
    admitted: date | None = None
    try:
        admitted = date.fromisoformat(rec["admitted_on"])
        problem = register_date_problem(admitted, today)
        if problem is not None:
            report.add(line, "admitted_on", problem)
    except ValueError:
        report.add(line, "admitted_on", "not a date of the form YYYY-MM-DD")
    block = rec.get("block") or None
    if block is not None and len(block) > 40:
        report.add(line, "block", "at most 40 characters")
    risk = (rec.get("risk_level") or "medium").lower()
    if risk not in RISK_LEVELS:
        report.add(line, "risk_level", "one of low, medium, high")
    if len(report.errors) != before or admitted is None:
        return None
    return ImportRow(line, reg, name, rec["facility_code"], admitted, block, risk)


async def _check_against_registry(conn: asyncpg.Connection, principal: Principal, rows: list[ImportRow],
                                  report: ImportReport) -> None:
    visible = await visible_facility_ids(conn, principal)
    codes = sorted({r.facility_code for r in rows})
    # Each facility's own today, by the database's clock: the parse only refused dates past the latest one.
    found = await conn.fetch(
        "SELECT code, id, (now() AT TIME ZONE time_zone)::date AS today FROM facilities"
        " WHERE code = ANY($1) AND ($2::bigint[] IS NULL OR id = ANY($2))", codes, visible)
    facilities = {r["code"]: r["id"] for r in found}
    today = {r["code"]: r["today"] for r in found}
    existing = {r["registration_no"] for r in await conn.fetch(
        "SELECT registration_no FROM inmates WHERE registration_no = ANY($1)", [r.registration_no for r in rows])}
    seen: dict[str, int] = {}
    for r in rows:
        if r.facility_code not in facilities:
            # Unknown and out-of-scope read the same: the file must not reveal other facilities.
            report.add(r.line, "facility_code", f"no facility {r.facility_code} in your scope")
        else:
            r.facility_id = facilities[r.facility_code]
            problem = register_date_problem(r.admitted_on, today[r.facility_code])
            if problem is not None:
                report.add(r.line, "admitted_on", problem)
        if r.registration_no in existing:
            report.add(r.line, "registration_no", "already registered")
        if r.registration_no in seen:
            report.add(r.line, "registration_no", f"also on row {seen[r.registration_no]}")
        seen.setdefault(r.registration_no, r.line)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    inmate_ids: list[int]
    by_facility: dict[str, int]


async def import_inmates(conn: asyncpg.Connection, principal: Principal, data: bytes, *,
                         actor: Actor) -> ImportResult:
    """Validate the whole file, then insert every row in one transaction, one audit record per inmate."""
    report = ImportReport()
    rows = parse(decode(data), report)
    if rows and not report.errors:
        await _check_against_registry(conn, principal, rows, report)
    if report.errors:
        report.errors.sort(key=lambda e: e["row"])
        raise _reject(report)
    async with conn.transaction():
        try:
            inserted = await conn.fetch(
                "INSERT INTO inmates (registration_no, full_name, block, risk_level, admitted_on, current_facility_id)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::bigint[])"
                " RETURNING id, current_facility_id, risk_level",
                [r.registration_no for r in rows], [r.full_name for r in rows], [r.block for r in rows],
                [r.risk_level for r in rows], [r.admitted_on for r in rows], [r.facility_id for r in rows])
        except asyncpg.UniqueViolationError as exc:
            # Someone registered one of these between validation and insert: still all or nothing.
            raise Conflict("an inmate in the file was registered meanwhile; nothing was imported, retry",
                           code="registration_no_taken", field="registration_no") from exc
        for rec in inserted:
            await append(conn, LogRef.facility(rec["current_facility_id"]), action="inmate.created",
                         subject_type="inmate", subject_id=rec["id"],
                         payload={"risk_level": rec["risk_level"], "source": "import"}, actor=actor)
    by_facility: dict[str, int] = {}
    for r in rows:
        by_facility[r.facility_code] = by_facility.get(r.facility_code, 0) + 1
    return ImportResult(len(inserted), [r["id"] for r in inserted], by_facility)
