"""Known answers for every detection rule, the must-not-flag cases, idempotent reruns, regional parameters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from audit.detection.catalogue import BY_ID, RULES
from audit.detection.engine import run_full, run_rule
from wartel.config import Settings
from wartel.db import DatabaseTarget, create_pool
from wartel.simulate import simulate
from wartel.simulate.evaluate import evaluate

NOW = datetime.now(UTC)
# The simulated region's last day and the instant the rules run as of are fixed, not "now": the rules count
# fixed Monday-based weeks (and 30-day buckets) plus the trailing window before ``until``, and the simulated
# traffic follows the calendar week, so data ending "today" was cut differently on different days (on a
# Thursday evening in UTC contact_churn and override_rate flagged ordinary inmates and officers; at other
# ends, nothing). A Sunday end and the following Monday's midnight give one fixed picture every day.
SIM_END = date(2026, 11, 29)
SIM_UNTIL = datetime(2026, 11, 30, tzinfo=UTC)
# The one rule that reads only the audit log: its entries carry the database's clock when the simulation
# appends them (the log is append-only and cannot be backdated), so it runs as of now.
AUDIT_LOG_RULES = tuple(r for r in RULES if r.id == "audit_tamper")
DATA_RULES = tuple(r for r in RULES if r not in AUDIT_LOG_RULES)


@pytest.fixture
async def pool(database: DatabaseTarget, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The service role's pool: detection runs with the same privileges as the scheduled job."""
    p = await create_pool(database.app_dsn, settings, min_size=1)
    try:
        yield p
    finally:
        await p.close()


async def test_every_rule_finds_its_injected_pattern_and_nothing_else(owner_conn, pool) -> None:  # type: ignore[no-untyped-def]
    region, truth = await simulate(owner_conn, facilities=4, inmates=400, days=70, seed=11, end=SIM_END)
    since, log_until = datetime.combine(region.start, datetime.min.time(), UTC), datetime.now(UTC)
    await run_full(pool, since=since, until=SIM_UNTIL, rules=DATA_RULES)
    await run_full(pool, since=since, until=log_until, rules=AUDIT_LOG_RULES)
    report = await evaluate(owner_conn, json.loads(truth.to_json()))
    for rule in RULES:
        got = report["rules"][rule.id]
        assert got["expected"] >= 1, f"{rule.id}: the simulation injects no instance"
        assert got["recall"] == 1.0, f"{rule.id} missed {got['missed']}"
        # volume_change is statistical: a family-call week of zero (no-shows, a call to the lawyer) in an
        # inmate's first weeks can cross its thresholds by chance; one such flag is within its design.
        assert got["false_positives"] <= (1 if rule.id == "volume_change" else 0), f"{rule.id}: {got}"
    assert report["negatives_checked"] >= 3
    assert report["negatives_flagged"] == [], report["negatives_flagged"]

    # Rerunning as of the same instant changes nothing and duplicates nothing: flags are keyed by
    # (rule, region, subject, period) and upserted.
    before = await owner_conn.fetch("SELECT id, evidence FROM detection_flags ORDER BY id")
    again = [*await run_full(pool, since=since, until=SIM_UNTIL, rules=DATA_RULES),
             *await run_full(pool, since=since, until=log_until, rules=AUDIT_LOG_RULES)]
    after = await owner_conn.fetch("SELECT id, evidence FROM detection_flags ORDER BY id")
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert sum(r.inserted for r in again) == 0 and sum(r.touched for r in again) == 0
    assert [r["evidence"] for r in after] == [r["evidence"] for r in before]


async def _call(conn: asyncpg.Connection, facility_id: int, booth_id: int, inmate_id: int, number: str,
                start: datetime, seconds: int = 300) -> int:
    return await conn.fetchval(
        "INSERT INTO calls (facility_id, booth_id, inmate_id, dialled_e164, started_at, ended_at, outcome)"
        " VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + make_interval(secs => $6::int), 'completed')"
        " RETURNING call_id",
        facility_id, booth_id, inmate_id, number, start, seconds)


async def _flags(conn: asyncpg.Connection, rule_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM detection_flags WHERE rule_id = $1 ORDER BY id", rule_id)


async def _run(conn: asyncpg.Connection, *rule_ids: str) -> None:
    for rule_id in rule_ids:
        await run_rule(conn, BY_ID[rule_id], since=NOW - timedelta(days=40), until=NOW)


async def _spread(factory, n: int, region_id: int | None = None) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """n inmates, each in a facility of its own in one region: (facility, booth, inmate)."""
    region_id = region_id or await factory.region()
    out = []
    for _ in range(n):
        fid = await factory.facility(region_id, hours=False)
        out.append((fid, await factory.booth(fid), await factory.inmate(fid)))
    return out


async def test_a_large_family_calling_its_home_number_is_not_a_ring(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    home = "+6282111222333"
    siblings = await _spread(factory, 4)
    for k, (fid, booth, inmate) in enumerate(siblings):
        await factory.contact(inmate, home, relation="parent")
        # Two of them even call at the same moment: still their mother, not a bridge.
        await _call(owner_conn, fid, booth, inmate, home, NOW - timedelta(days=3 + (k > 1) * k))
    await _run(owner_conn, "shared_number", "shared_registration", "overlapping_calls", "prefix_hopping")
    for rule_id in ("shared_number", "shared_registration", "overlapping_calls", "prefix_hopping"):
        assert await _flags(owner_conn, rule_id) == [], rule_id


async def test_a_household_larger_than_household_max_is_flagged(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    number = "+6282111222444"
    for fid, booth, inmate in await _spread(factory, 5):
        await factory.contact(inmate, number, relation="parent")
        await _call(owner_conn, fid, booth, inmate, number, NOW - timedelta(days=2))
    await _run(owner_conn, "shared_number")
    (flag,) = await _flags(owner_conn, "shared_number")
    assert flag["evidence"]["household_inmates"] == 5 and flag["evidence"]["effective_inmates"] == 5


async def test_a_legal_aid_office_called_by_many_inmates_is_not_flagged(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    office = "+62215550199"
    inmates = await _spread(factory, 6)
    for k, (fid, booth, inmate) in enumerate(inmates):
        await factory.contact(inmate, office, relation="legal_counsel")
        await _call(owner_conn, fid, booth, inmate, office, NOW - timedelta(days=1, minutes=k))
    await _run(owner_conn, *(r.id for r in RULES if r.focus == "number"))
    assert await owner_conn.fetchval("SELECT count(*) FROM detection_flags") == 0


async def test_three_unrelated_inmates_on_one_number_are_flagged_with_evidence(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    ring = "+6287712345678"
    inmates = await _spread(factory, 3)
    calls = []
    for fid, booth, inmate in inmates:
        calls.append(await _call(owner_conn, fid, booth, inmate, ring, NOW - timedelta(days=4)))
    await _run(owner_conn, "shared_number")
    (flag,) = await _flags(owner_conn, "shared_number")
    assert flag["subject_type"] == "number" and flag["subject_key"] == ring and flag["severity"] == "high"
    ev = flag["evidence"]
    assert ev["distinct_inmates"] == 3 and ev["thresholds"]["min_inmates"] == 3 and ev["rule_version"] == 2
    assert sorted(i["inmate_id"] for i in ev["inmates"]) == sorted(i for _, _, i in inmates)
    assert sorted(c for i in ev["inmates"] for c in i["call_ids"]) == sorted(calls)
    assert sorted(flag["facility_ids"]) == sorted(f for f, _, _ in inmates)


async def test_region_parameters_override_the_defaults(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    strict, lenient = await factory.region(), await factory.region()
    await owner_conn.execute(
        "INSERT INTO detection_rule_params (region_id, rule_id, params) VALUES ($1, 'shared_number', $2)",
        lenient, {"min_inmates": 4})
    for region_id, number in ((strict, "+6287711111111"), (lenient, "+6287722222222")):
        for fid, booth, inmate in await _spread(factory, 3, region_id):
            await _call(owner_conn, fid, booth, inmate, number, NOW - timedelta(days=2))
    await _run(owner_conn, "shared_number")
    flags = await _flags(owner_conn, "shared_number")
    assert [(f["region_id"], f["subject_key"]) for f in flags] == [(strict, "+6287711111111")]


async def test_a_disabled_rule_flags_nothing_in_that_region(owner_conn, factory) -> None:  # type: ignore[no-untyped-def]
    region_id = await factory.region()
    await owner_conn.execute(
        "INSERT INTO detection_rule_params (region_id, rule_id, enabled) VALUES ($1, 'premium_international', false)",
        region_id)
    (fid, booth, inmate), = await _spread(factory, 1, region_id)
    await _call(owner_conn, fid, booth, inmate, "+442079460000", NOW - timedelta(days=1))
    await _run(owner_conn, "premium_international")
    assert await _flags(owner_conn, "premium_international") == []
