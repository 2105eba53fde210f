"""The service's side of the audit log: the signing key, the checkpoint job, labels, refused changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import structlog

from audit import Actor, LogRef, is_refused_audit_change, record_blocked_attempt
from audit.checkpoints import make_checkpoints, tree_cache_for
from audit.signing import SigningKey, load_or_create
from audit.verify import verify_database
from audit.witnessing import WitnessRef, fetch_witnessed, submit_checkpoints
from wartel.config import Settings

log = structlog.get_logger("wartel.audit")
_KEYS: dict[Path, tuple[tuple[int, int], SigningKey]] = {}

CHECKPOINT_EVERY_S = 180.0
VERIFY_EVERY_S = 6 * 3600.0


def signing_key(settings: Settings) -> SigningKey:
    """The checkpoint signing key at ``settings.signing_key_path``, created (0600) on first use, and read
    again when the file was replaced (`wartel audit rotate-key` while the service runs): a running service
    never signs with a key that was retired."""
    path = settings.signing_key_path.resolve()
    held = _KEYS.get(path)
    if held is not None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_ino, stat.st_mtime_ns) == held[0]:
            return held[1]
    key = load_or_create(path)
    stat = path.stat()
    _KEYS[path] = ((stat.st_ino, stat.st_mtime_ns), key)
    return key


def witnesses(settings: Settings) -> list[WitnessRef]:
    """The configured witnesses (``WARTEL_AUDIT_WITNESSES``); one whose key cannot be read yet (the demo
    witness writes its public key file when it starts) is left out of this run, with a warning."""
    found = []
    for item in settings.audit_witnesses:
        try:
            found.append(WitnessRef.from_config(item))
        except (KeyError, OSError, ValueError) as exc:
            log.warning("audit witness not configured correctly", witness=item.get("name"), error=str(exc))
    return found


async def checkpoint_job(pool: asyncpg.Pool, settings: Settings) -> None:
    """Sign a checkpoint of every log that grew since its last one, then have the witnesses cosign them.

    Signing never waits for a witness: the submissions come after, outside any transaction, and a witness
    that is down catches up at a later run."""
    key = signing_key(settings)
    async with pool.acquire() as conn:
        made, problems = await make_checkpoints(conn, key, cache=tree_cache_for(pool))
    for problem in problems:
        log.error("audit log not checkpointed: its history changed", problem=problem)
    if made:
        log.info("audit checkpoints signed", logs=len(made))
    configured = witnesses(settings)
    if configured:
        outcome = await submit_checkpoints(pool, key, configured, tree_cache_for(pool))
        for name, status, reason in outcome.refused:
            log.error("audit witness refused a checkpoint", log=name, status=status, reason=reason)
        for name in outcome.unreachable:
            log.warning("audit witness unreachable; it catches up at a later run", witness=name)
        if outcome.cosigned:
            log.info("audit checkpoints cosigned", cosignatures=len(outcome.cosigned))


async def verification_job(pool: asyncpg.Pool, settings: Settings) -> None:
    """Verify every log against its stored checkpoints and record the outcome (reports show the latest).

    The full check, with the checkpoints the regional office keeps, is `wartel audit verify --checkpoints`.
    """
    configured = witnesses(settings)
    witnessed, problems = await fetch_witnessed(configured) if configured else ([], [])
    for problem in problems:
        log.warning("audit witness not consulted", problem=problem)
    async with pool.acquire() as conn:
        results = await verify_database(conn, workers=0, witnesses=configured, witnessed=witnessed)
    for r in results:
        if not r.ok:
            log.error("audit log verification failed", log=r.log_name, first_bad_seq=r.first_bad_seq,
                      problem=r.problem)
    log.info("audit logs verified", logs=len(results), failed=sum(not r.ok for r in results))


async def log_labels(conn: asyncpg.Connection) -> dict[str, str]:
    """Human names of logs (facility and region codes), keyed by log name such as ``facility:3``."""
    rows = await conn.fetch(
        "SELECT 'facility:' || id AS name, code FROM facilities "
        "UNION ALL SELECT 'region:' || id, code FROM regions")
    labels = {r["name"]: r["code"] for r in rows}
    labels["national:0"] = "national"
    return labels


def log_of_principal(principal: Any) -> LogRef:
    """Where a user's refused change is recorded: their facility's log, else their region's, else national."""
    if principal is not None and getattr(principal, "facility_id", None) is not None:
        return LogRef.facility(principal.facility_id)
    if principal is not None and getattr(principal, "region_id", None) is not None:
        return LogRef.region(principal.region_id)
    return LogRef.national()


async def record_refused_change(pool: asyncpg.Pool, principal: Any, request_id: str | None,
                                error: BaseException, *, method: str, route: str) -> bool:
    """Record a refused change of audit data made through the service (the HTTP error path calls this).

    Returns whether it was recorded. The failed request's own transaction has rolled back by now; this is a
    new one on another pooled connection, so the record stays.
    """
    if not is_refused_audit_change(error):
        return False
    actor = (principal.actor(request_id) if principal is not None
             else Actor(type="system", id="anonymous", request_id=request_id))
    try:
        async with pool.acquire(timeout=5) as conn:
            await record_blocked_attempt(conn, log_of_principal(principal), actor=actor, error=error,
                                         context={"method": method, "route": route})
    except Exception:
        log.exception("could not record a refused change of audit data")
        return False
    log.warning("refused change of audit data recorded", route=route)
    return True
