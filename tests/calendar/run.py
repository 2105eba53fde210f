"""``make test-calendar``: the calendar-sensitive tests at fixed instants that have hurt real systems.

Each instant runs pytest under libfaketime (``LD_PRELOAD``), so Python *and* the embedded PostgreSQL it
starts see the same instant and the clock still ticks from there. The server runs on its own data
directory (``.wartel-calendar``), stopped before and after each instant, so each instant's server is started
under that instant's clock; the normal test server (``.wartel-test``) is never touched.

Why libfaketime rather than a clock passed into every function: PostgreSQL's ``now()`` (bookings' lead
time, quota periods, sweeps, expiry, session lifetime) must agree with Python's, and only a clock below both
processes does that without changing every time-sensitive call site in the product.

The fake clock is an offset (``FAKETIME="+<seconds>"``) computed at each launch, not a start instant
(``"@…"``): with ``@`` every process starts its own clock at that instant when *it* starts, so PostgreSQL,
started seconds after pytest, would lag Python by those seconds; with an offset every process reads the same
shifted clock. Monotonic clocks are faked too (the default): libfaketime 0.9.10 answers EINVAL to Python's
``time.sleep`` (``clock_nanosleep`` with an absolute monotonic deadline) when
``FAKETIME_DONT_FAKE_MONOTONIC=1``; with both clocks shifted by the same offset, asyncio's timers still
tick at the real rate.

Usage: ``python tests/calendar/run.py [--all] [--only NAME[,NAME]] [pytest args]``. ``--all`` runs the
whole suite (except the fault scenarios) instead of the calendar-sensitive files. The last line printed is
one JSON object: each instant's name, UTC instant, pytest exit code and seconds. Exit code 0 only when every
instant passed; 2 when libfaketime is missing.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / ".wartel-calendar"
LIBFAKETIME_CANDIDATES = (
    os.environ.get("WARTEL_LIBFAKETIME", ""),
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)

# (name, instant in UTC, why it hurts, machine time zone for the run). WIB = UTC+7, WITA = UTC+8, WIT = UTC+9.
# The machine's own zone varies too, so a test that reads the machine's local date (date.today()) is caught.
INSTANTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "fri-2330-wib",
        "2026-12-04T16:30:00",
        "Friday 23:30 WIB: Saturday in WITA and WIT, the week ends in 30 min",
        "UTC",
    ),
    (
        "sun-2350-wit",
        "2026-12-06T14:50:00",
        "Sunday 23:50 WIT: the week's last ten minutes in the east",
        "Asia/Jayapura",
    ),
    (
        "mon-0005-wit",
        "2026-12-06T15:05:00",
        "Monday 00:05 WIT: a new week in WIT only (Sunday in WIB and WITA)",
        "UTC",
    ),
    (
        "mon-0005-wita",
        "2026-12-06T16:05:00",
        "Monday 00:05 WITA: Monday in WITA and WIT, Sunday 23:05 in WIB",
        "Asia/Makassar",
    ),
    (
        "dec31-2350-wib",
        "2026-12-31T16:50:00",
        "31 December 23:50 WIB: already 1 January in WITA and WIT",
        "Asia/Jakarta",
    ),
    (
        "jan01-0005-wib",
        "2026-12-31T17:05:00",
        "1 January 00:05 WIB: new year, month and week-year everywhere",
        "UTC",
    ),
    ("feb28-2028-2350-wib", "2028-02-28T16:50:00", "28 February 2028 23:50 WIB: a leap day follows", "UTC"),
    (
        "feb29-2028-2350-wita",
        "2028-02-29T15:50:00",
        "29 February 2028 23:50 WITA: the leap day's end",
        "Asia/Jakarta",
    ),
    (
        "apr30-2027-2350-wib",
        "2027-04-30T16:50:00",
        "30 April 2027 23:50 WIB: last day of a 30-day month, a Friday",
        "UTC",
    ),
)

# The tests that book, expire, sweep, report, detect or render "today": those that can depend on the instant.
# Chosen so that all the instants together take a few minutes (each test costs a database from the template);
# the whole suite under one instant is `python tests/calendar/run.py --all --only NAME`.
BOOKING = "tests/test_schedules_booking.py::test_"
CALENDAR_TESTS = (
    "tests/test_schedules_periods.py",
    f"{BOOKING}officer_books_a_free_slot_and_it_is_taken_in_availability",
    f"{BOOKING}every_refusal_has_its_own_code_and_books_nothing",
    f"{BOOKING}quota_is_exhausted_then_an_officer_override_books_with_a_reason",
    f"{BOOKING}legal_counsel_calls_have_their_own_allowance",
    f"{BOOKING}cancel_refunds_before_the_cutoff_and_keeps_the_charge_after",
    f"{BOOKING}booth_outage_and_closure_cancel_refund_and_list_the_inmates",
    f"{BOOKING}reschedule_after_the_cutoff_is_refused_unless_the_facility_causes_it",
    "tests/test_schedules_policies.py::test_a_reducing_sanction_shortens_and_limits_calls_until_lifted",
    "tests/test_schedules_calls.py::test_transitions_outside_the_graph_are_refused",
    "tests/test_schedules_calls.py::test_check_in_is_refused_too_early",
    "tests/test_schedules_calls.py::test_no_show_follows_the_policy_version_the_booking_was_made_under",
    "tests/test_schedules_calls.py::test_checked_in_but_never_called_is_the_facility_s_fault_and_refunded",
    "tests/test_schedules_calls.py::test_overdue_calls_are_ended_as_time_limited_once_across_two_processes",
    "tests/test_schedules_kiosk.py::test_unanswered_and_failed_calls_from_the_terminal_are_given_back",
    "tests/test_schedules_kiosk.py::test_mismatches_are_refused_and_always_recorded",
    "tests/test_schedules_board.py",
    "tests/test_idempotency_expiry.py",
    "tests/test_reports_api.py::test_the_scheduled_job_stores_last_month_for_every_region",
    "tests/test_detection_rules.py::test_every_rule_finds_its_injected_pattern_and_nothing_else",
    "tests/test_detection_incremental.py::test_first_pass_starts_from_now_and_sweeps_absence_rules",
    "tests/test_detection_cli.py::test_evaluate_over_seeds_reports_the_target",
    "tests/test_detection_watchlist.py::test_blocking_a_number_cancels_its_upcoming_bookings_and_gives_the_calls_back",
    "tests/test_pages_officer.py::test_officer_books_starts_and_ends_a_call",
    "tests/test_pages_officer.py::test_a_refused_booking_says_why_and_keeps_the_form",
    "tests/test_pages_security.py::test_blocking_a_number_on_the_page_cancels_its_upcoming_booking",
    "tests/test_authz_matrix.py::test_role_and_scope[schedules:POST /api/v1/bookings]",
    "tests/test_authz_matrix.py::test_role_and_scope[schedules:POST /api/v1/bookings/{booking_id}/reschedule]",
    "tests/browser/test_journeys.py::test_officer_books_starts_and_ends_a_call",
    "tests/browser/test_journeys.py::test_the_board_follows_changes_made_elsewhere",
)


def libfaketime() -> str | None:
    return next((p for p in LIBFAKETIME_CANDIDATES if p and Path(p).is_file()), None)


def _data_dir(slot: int) -> Path:
    """Each parallel slot has its own server, restarted for every instant it runs."""
    return DATA_DIR if slot == 0 else DATA_DIR.with_name(f"{DATA_DIR.name}-{slot}")


def _stop_server(env: dict[str, str], data_dir: Path) -> None:
    """Stop this slot's embedded server, if one runs, so the next instant starts it under its own clock."""
    code = "import sys; from pathlib import Path; from wartel.db import stop_embedded; stop_embedded(Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, env=env, check=False,
                   capture_output=True)


def run_instant(name: str, instant: str, zone: str, lib: str, pytest_args: list[str],
                slots: queue.Queue[int]) -> dict[str, object]:
    slot = slots.get()
    try:
        data_dir = _data_dir(slot)
        target = datetime.fromisoformat(instant).replace(tzinfo=UTC)
        plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
        plain["WARTEL_TEST_DATA_DIR"] = str(data_dir)
        _stop_server(plain, data_dir)
        # The offset is computed at launch, so the run starts at the instant (within a second) and ticks on.
        offset = int(target.timestamp() - time.time())
        env = dict(plain, LD_PRELOAD=lib, FAKETIME=f"{offset:+d}", TZ=zone)
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )
        _stop_server(plain, data_dir)
    finally:
        slots.put(slot)
    # Printed whole when the instant ends, so two instants running side by side do not interleave.
    with _PRINT:
        print(f"== {name}: {instant} UTC (machine zone {zone})", flush=True)
        print(run.stdout + run.stderr, end="", flush=True)
    return {
        "instant": name,
        "utc": instant,
        "pytest_exit": run.returncode,
        "seconds": round(time.monotonic() - started, 1),
    }


_PRINT = threading.Lock()


def main(argv: list[str]) -> int:
    lib = libfaketime()
    if lib is None:
        print(
            "make test-calendar needs libfaketime: apt-get install faketime (Debian) or set WARTEL_LIBFAKETIME",
            file=sys.stderr,
        )
        return 2
    whole_suite = "--all" in argv
    argv = [a for a in argv if a != "--all"]
    only: set[str] | None = None
    if "--only" in argv:
        i = argv.index("--only")
        only = set(argv[i + 1].split(","))
        argv = argv[:i] + argv[i + 2 :]
    # Two instants at a time (one per core; each has its own server): the nine instants take about half
    # as long, which keeps the whole CI run near ten minutes. WARTEL_CALENDAR_JOBS=1 runs them one by one.
    jobs = max(1, int(os.environ.get("WARTEL_CALENDAR_JOBS", "2")))
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)
    selection = ["-m", "not faults"] if whole_suite else ["-m", "not faults", *CALENDAR_TESTS]
    chosen = [i for i in INSTANTS if only is None or i[0] in only]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(
            lambda i: run_instant(i[0], i[1], i[3], lib, [*selection, *argv], slots), chosen))
    if not results:
        print(f"no instant named {sorted(only or ())}; known: {[i[0] for i in INSTANTS]}", file=sys.stderr)
        return 2
    failed = [r["instant"] for r in results if r["pytest_exit"] != 0]
    print(json.dumps({"passed": not failed, "failed": failed, "instants": results}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
