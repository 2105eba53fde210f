"""Running the rules: a full rescan, or an incremental pass over what changed since the watermark.

Each rule is one set-based query; the engine wraps it in an upsert keyed by (rule, region, subject,
period), so rerunning only refreshes evidence. The incremental pass narrows number rules to the numbers
touched since the watermark, inmate rules to the inmates touched, officer rules to the officers who
acted; rules about an absence (a drop, no call at all) are swept on their own cadence instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from audit.detection.catalogue import RULES, Rule

log = structlog.get_logger("audit.detection")

# Rows are re-read over this overlap: a transaction's now() is taken at its start, so a call ended in a
# transaction that commits late carries a time slightly before the watermark.
OVERLAP = timedelta(seconds=60)

_UPSERT = """
WITH found (region_id, subject_type, subject_key, period_start, facility_ids, metric, last_event_at, evidence) AS (
/*rule*/
),
one AS (
    SELECT DISTINCT ON (region_id, subject_type, subject_key, period_start) *
      FROM found
     -- every rule receives both focus parameters; naming their types here covers rules that use one
     WHERE ($5::bigint[] IS NULL OR true) AND ($6::text[] IS NULL OR true)
     ORDER BY region_id, subject_type, subject_key, period_start, metric DESC NULLS LAST),
up AS (
    INSERT INTO detection_flags AS fl (rule_id, rule_version, region_id, subject_type, subject_key, period_start,
                                       facility_ids, severity, weight, metric, evidence, last_event_at)
    SELECT $4::text, $7::int, o.region_id, o.subject_type, o.subject_key, o.period_start,
           ARRAY(SELECT DISTINCT x FROM unnest(o.facility_ids) x WHERE x IS NOT NULL ORDER BY x),
           $8::text, $9::numeric, o.metric,
           o.evidence || jsonb_build_object('rule_id', $4::text, 'rule_version', $7::int),
           coalesce(o.last_event_at, o.period_start)
      FROM one o
    ON CONFLICT ON CONSTRAINT detection_flag_key DO UPDATE
       SET rule_version = EXCLUDED.rule_version, facility_ids = EXCLUDED.facility_ids, metric = EXCLUDED.metric,
           evidence = EXCLUDED.evidence, last_event_at = EXCLUDED.last_event_at, severity = EXCLUDED.severity,
           weight = EXCLUDED.weight, last_seen_at = now()
     WHERE fl.evidence IS DISTINCT FROM EXCLUDED.evidence OR fl.facility_ids IS DISTINCT FROM EXCLUDED.facility_ids
    RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) AS touched FROM up
"""


@dataclass
class RuleResult:
    rule_id: str
    inserted: int
    touched: int
    seconds: float


@dataclass
class Focus:
    """What changed: the subjects the incremental pass re-evaluates."""

    inmates: set[int] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    officers: set[int] = field(default_factory=set)
    facilities: set[int] = field(default_factory=set)
    anything: bool = False

    def for_rule(self, rule: Rule) -> tuple[bool, list[int] | None, list[str] | None]:
        """Whether to run ``rule`` and with which focus ($5 ids, $6 numbers)."""
        if rule.focus == "number":
            return bool(self.numbers), None, sorted(self.numbers)
        if rule.focus == "inmate":
            return bool(self.inmates), sorted(self.inmates), None
        if rule.focus == "officer":
            return bool(self.officers), sorted(self.officers), None
        if rule.focus == "facility":
            return bool(self.facilities), sorted(self.facilities), None
        return self.anything, None, None


async def run_rule(
    conn: asyncpg.Connection,
    rule: Rule,
    *,
    since: datetime,
    until: datetime,
    ids: list[int] | None = None,
    numbers: list[str] | None = None,
    command_timeout_s: float | None = None,
) -> RuleResult:
    """Evaluate one rule for every period from ``since``'s to ``until``'s and upsert its flags."""
    started = time.perf_counter()
    sql = _UPSERT.replace("/*rule*/", rule.sql)
    row = await conn.fetchrow(
        sql,
        since,
        until,
        json.dumps(rule.defaults),
        rule.id,
        ids,
        numbers,
        rule.version,
        rule.severity,
        rule.weight,
        timeout=command_timeout_s,
    )
    return RuleResult(rule.id, row["inserted"], row["touched"], time.perf_counter() - started)


async def _run_in_tx(conn: asyncpg.Connection, rule: Rule, **kw: Any) -> RuleResult:
    async with conn.transaction():
        # A rescan of a region-year is long by nature; the service's short statement timeout is for requests.
        await conn.execute("SET LOCAL statement_timeout = '15min'")
        await conn.execute("SET LOCAL work_mem = '64MB'")
        # A rescan reads whole windows: hash joins throughout. Row estimates of CTEs are poor, and one
        # nested loop over a misestimated CTE turns a second into minutes.
        await conn.execute("SET LOCAL enable_nestloop = off")
        # The window's lower bound is computed inside the query, so the planner guesses a third of the
        # table and walks it by index in random order; sequential scans were ~30 % faster on a
        # region-year (single-row lookups by index stay far cheaper than a scan and keep their index).
        await conn.execute("SET LOCAL random_page_cost = 20")
        # The pool's client-side command timeout is sized for requests; the server's limit above applies.
        return await run_rule(conn, rule, command_timeout_s=15 * 60, **kw)


async def run_full(
    pool: asyncpg.Pool,
    *,
    since: datetime,
    until: datetime | None = None,
    rules: tuple[Rule, ...] = RULES,
    parallel: int = 2,
) -> list[RuleResult]:
    """Rescan every rule from ``since``; ``parallel`` rules at a time, each in its own transaction."""
    until = until or datetime.now(UTC)
    gate = asyncio.Semaphore(parallel)
    started_at = datetime.now(UTC)

    async def one(rule: Rule) -> RuleResult:
        async with gate, pool.acquire() as conn:
            return await _run_in_tx(conn, rule, since=since, until=until)

    # The slowest rules first, so the two lanes finish together.
    order = sorted(rules, key=lambda r: r.id not in _HEAVY)
    results = await asyncio.gather(*(one(r) for r in order))
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO detection_runs (kind, started_at, finished_at, since, flags_upserted, per_rule)"
            " VALUES ('full', $1, now(), $2, $3, $4::text::jsonb)",
            started_at,
            since,
            sum(r.touched for r in results),
            json.dumps(
                {
                    r.rule_id: {"inserted": r.inserted, "touched": r.touched, "s": round(r.seconds, 3)}
                    for r in results
                }
            ),
        )
    return results


_HEAVY = {
    "volume_change",
    "new_number_burst",
    "contact_churn",
    "overlapping_calls",
    "rights_starvation",
    "officer_cutoff_rate",
    "shared_number",
    "prefix_hopping",
}

_CHANGES = """
SELECT 'call' AS kind, c.inmate_id, c.dialled_e164 AS num, c.ended_by AS officer_id, c.facility_id
  FROM calls c WHERE c.ended_at >= $1
UNION ALL
SELECT 'call_started', c.inmate_id, c.dialled_e164, c.supervised_by, c.facility_id
  FROM calls c WHERE c.started_at >= $1 AND c.source = 'kiosk'
UNION ALL
SELECT 'contact', k.inmate_id, k.phone_e164, coalesce(k.verified_by, k.created_by), i.current_facility_id
  FROM contacts k JOIN inmates i ON i.id = k.inmate_id WHERE k.updated_at >= $1 OR k.created_at >= $1
UNION ALL
SELECT 'contact_creator', k.inmate_id, NULL, k.created_by, i.current_facility_id
  FROM contacts k JOIN inmates i ON i.id = k.inmate_id WHERE (k.updated_at >= $1 OR k.created_at >= $1) AND k.created_by IS NOT NULL
UNION ALL
SELECT 'booking', b.inmate_id, k.phone_e164, x.officer_id, b.facility_id
  FROM bookings b JOIN contacts k ON k.id = b.contact_id
 CROSS JOIN LATERAL (VALUES (b.booked_by), (b.cancelled_by), (b.checked_in_by)) AS x(officer_id)
 WHERE (b.updated_at >= $1 OR b.booked_at >= $1)
UNION ALL
SELECT 'audit', NULL, NULL, CASE WHEN e.actor_id ~ '^[0-9]{1,18}$' THEN e.actor_id::bigint END,
       CASE WHEN l.scope = 'facility' THEN l.scope_id END
  FROM audit.entries e JOIN audit.logs l ON l.log_id = e.log_id
 WHERE e.recorded_at >= $1 AND (e.actor_type = 'user' OR e.action IN ('audit.tamper_blocked', 'audit.witness_refused'))
UNION ALL
SELECT 'call_event', NULL, e.dialled_e164, NULL, e.facility_id FROM call_events e WHERE e.received_at >= $1
"""


async def collect_changes(conn: asyncpg.Connection, since: datetime) -> Focus:
    focus = Focus()
    for row in await conn.fetch(_CHANGES, since):
        focus.anything = True
        if row["inmate_id"] is not None:
            focus.inmates.add(row["inmate_id"])
        if row["num"] is not None:
            focus.numbers.add(row["num"])
        if row["officer_id"] is not None:
            focus.officers.add(row["officer_id"])
        if row["facility_id"] is not None:
            focus.facilities.add(row["facility_id"])
    return focus


# How far back the first pass after install (or a rule new since the last pass) rescans history.
HISTORY = timedelta(days=365)


async def run_incremental(
    pool: asyncpg.Pool, *, now: datetime | None = None, max_sweeps: int | None = 1
) -> list[RuleResult]:
    """One pass of the incremental detector: re-evaluate what changed since the watermark.

    The first pass after install rescans the last year of history (and a rule added since the last pass
    rescans its own), so nothing that happened before detection started is silently left unflagged.
    At most ``max_sweeps`` due sweeps run per pass (None: all), the most overdue first: a sweep reads a
    whole region's period, and eight of them in one pass would hold up the flags of that pass's calls.
    """
    async with pool.acquire() as conn:
        until = now or await conn.fetchval("SELECT clock_timestamp()")
        marks = {
            r["source"]: r["watermark"]
            for r in await conn.fetch("SELECT source, watermark FROM detection_watermarks")
        }
    results: list[RuleResult] = []
    unseen = tuple(r for r in RULES if f"rule:{r.id}" not in marks)
    if unseen:
        # History the live path never saw: rescanned here, once, as `wartel detect run --full` would.
        results += await run_full(pool, since=until - HISTORY, until=until, rules=unseen)
        async with pool.acquire() as conn:
            for rule in unseen:
                await _set_mark(conn, f"rule:{rule.id}", until)
        log.warning(
            "detection history rescanned",
            rules=[r.id for r in unseen],
            since=(until - HISTORY).isoformat(),
            flags_touched=sum(r.touched for r in results),
            first_pass="changes" not in marks,
        )
    due = sorted(
        (
            r
            for r in RULES
            if r.sweep_s is not None
            and r not in unseen
            and (until - marks[f"rule:{r.id}"]).total_seconds() >= r.sweep_s
        ),
        key=lambda r: marks[f"rule:{r.id}"],
    )
    sweeps = {r.id for r in (due if max_sweeps is None else due[:max_sweeps])}
    async with pool.acquire() as conn:
        watermark = marks.get("changes")
        since = (watermark - OVERLAP) if watermark is not None else until
        focus = await collect_changes(conn, since) if watermark is not None else Focus()
        for rule in RULES:
            if rule in unseen:
                continue
            run, ids, numbers = focus.for_rule(rule)
            # Rules over complete periods gain nothing from a change inside the running period: their sweep
            # evaluates each period once it has ended.
            if run and not rule.complete_periods:
                # From the watermark's period, not the current one: a period that ended since the last pass
                # is evaluated with every record before its end, as a rescan evaluates it.
                async with conn.transaction():
                    results.append(
                        await run_rule(
                            conn, rule, since=min(since, until), until=until, ids=ids, numbers=numbers
                        )
                    )
            if rule.id in sweeps:
                # From the last sweep's instant: a week or day that ended since is evaluated for everyone.
                last = marks[f"rule:{rule.id}"]
                async with conn.transaction():
                    await conn.execute("SET LOCAL statement_timeout = '5min'")
                    results.append(
                        await run_rule(
                            conn, rule, since=min(last, until), until=until, command_timeout_s=5 * 60
                        )
                    )
                    await _set_mark(conn, f"rule:{rule.id}", until)
        await _set_mark(conn, "changes", until)
    touched = sum(r.touched for r in results)
    if touched:
        log.info("detection pass", flags_touched=touched, rules=[r.rule_id for r in results if r.touched])
    return results


async def _set_mark(conn: asyncpg.Connection, source: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO detection_watermarks (source, watermark) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET watermark = greatest(detection_watermarks.watermark, EXCLUDED.watermark),"
        " updated_at = now()",
        source,
        at,
    )


async def incremental_job(pool: asyncpg.Pool, settings: Any) -> None:
    """The scheduled job (every 2 s): flags appear within seconds of the call or registration behind them."""
    await run_incremental(pool)
