"""The service's side of witnessing: submit each log's newest checkpoint to every configured witness, keep
the cosignatures, flag a refusal, and fetch what a witness holds for verification.

Submitting never holds a transaction open across the network: the proof is computed from the verified tree
cache, the request goes out, and the cosignature is stored in a short transaction of its own. A witness that
is down only delays its cosignatures: the next run submits the newest checkpoint with a consistency proof
from the size the witness last cosigned, which covers every checkpoint signed in between (nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from audit.checkpoints import Checkpoint, TreeCache, latest_checkpoint
from audit.errors import HistoryRewritten
from audit.log import Actor, LogRef, append
from audit.signing import SigningKey
from audit.tlog import (
    NoteError,
    add_checkpoint_body,
    checkpoint_text,
    log_name_of,
    origin_of,
    parse_checkpoint,
    sign_note,
    verify_cosignature,
)

REFUSED_ACTION = "audit.witness_refused"
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class WitnessRef:
    """A witness as the service (or a verifier) knows it: its name, where it answers, its public key."""

    name: str
    url: str
    public_key: bytes

    @classmethod
    def from_config(cls, item: dict[str, Any]) -> WitnessRef:
        """From ``{"name", "url", "public_key" (hex) | "public_key_file" (hex inside)}``."""
        hex_key = item.get("public_key") or Path(item["public_key_file"]).read_text().strip()
        return cls(str(item["name"]), str(item["url"]).rstrip("/"), bytes.fromhex(hex_key))


@dataclass
class WitnessOutcome:
    cosigned: list[tuple[str, int]] = field(default_factory=list)  # (log name, size)
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # (log name, status, reason)
    unreachable: list[str] = field(default_factory=list)


def signed_note(cp: Checkpoint, key: SigningKey) -> bytes:
    """The checkpoint as a C2SP signed note, signed by the log's key under its origin."""
    origin = origin_of(cp.log_name)
    text = checkpoint_text(origin, cp.size, cp.root_hash)
    return text + b"\n" + sign_note(text, origin, key.private, key.public_raw).encode() + b"\n"


async def _cosigned_size(conn: asyncpg.Connection, log_id: int, witness: str) -> int:
    return await conn.fetchval(
        "SELECT coalesce(max(size), 0) FROM audit.witness_cosignatures WHERE log_id = $1 AND witness = $2",
        log_id,
        witness,
    )


async def submit_checkpoints(
    pool: asyncpg.Pool,
    key: SigningKey,
    witnesses: list[WitnessRef],
    cache: TreeCache | None = None,
    *,
    now: datetime | None = None,
) -> WitnessOutcome:
    """Submit every log's newest checkpoint to every witness that has not cosigned it yet."""
    outcome = WitnessOutcome()
    if not witnesses:
        return outcome
    cache = cache or TreeCache()
    async with pool.acquire() as conn:
        log_ids = [
            r["log_id"]
            for r in await conn.fetch("SELECT DISTINCT log_id FROM audit.checkpoints ORDER BY log_id")
        ]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for witness in witnesses:
            for log_id in log_ids:
                try:
                    await _submit_one(pool, session, key, witness, log_id, cache, outcome, now)
                except HistoryRewritten:
                    # The log's rows no longer hold: nothing of it is submitted (verification names it;
                    # the checkpoint job already refused to sign over it).
                    continue
                except (TimeoutError, aiohttp.ClientError, OSError):
                    # Down or unreachable: the next run catches up from the size it last cosigned.
                    outcome.unreachable.append(witness.name)
                    break
    return outcome


async def _submit_one(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    key: SigningKey,
    witness: WitnessRef,
    log_id: int,
    cache: TreeCache,
    outcome: WitnessOutcome,
    now: datetime | None,
) -> None:
    async with pool.acquire() as conn:
        cp = await latest_checkpoint(conn, log_id)
        old = await _cosigned_size(conn, log_id, witness.name)
        if cp is None or cp.size <= old:
            return
        tree = await cache.tree(conn, log_id, cp.size)
    note = signed_note(cp, key)
    for _ in range(2):  # once more after a 409 names the size the witness holds
        proof = tree.consistency_proof(old, cp.size) if old <= cp.size else []
        async with session.post(
            f"{witness.url}/add-checkpoint", data=add_checkpoint_body(old, proof, note)
        ) as r:
            status, body = r.status, await r.text()
        if status == 409 and r.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
            held = int(body.strip() or "0")
            if held <= cp.size and held != old:
                old = held
                continue
            reason = f"the witness holds size {held}, beyond this log's {cp.size}: the log was rolled back"
            await _refused(pool, witness, cp, status, reason, held, outcome, now)
            return
        break
    if status != 200:
        await _refused(pool, witness, cp, status, body.strip()[:200], old, outcome, now)
        return
    text = checkpoint_text(origin_of(cp.log_name), cp.size, cp.root_hash)
    for line in body.splitlines():
        at = verify_cosignature(text, line, witness.name, witness.public_key)
        if at is None:
            continue
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO audit.witness_cosignatures (log_id, size, witness, root_hash, cosigned_at, cosignature) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                log_id,
                cp.size,
                witness.name,
                cp.root_hash,
                datetime.fromtimestamp(at, UTC),
                line,
            )
        outcome.cosigned.append((cp.log_name, cp.size))
        return
    await _refused(
        pool, witness, cp, status, "no valid cosignature of this witness in its answer", old, outcome, now
    )


async def _refused(
    pool: asyncpg.Pool,
    witness: WitnessRef,
    cp: Checkpoint,
    status: int,
    reason: str,
    witness_size: int,
    outcome: WitnessOutcome,
    now: datetime | None,
) -> None:
    """A witness refused to cosign: the log's history is not what the witness saw (rollback, fork) or the
    checkpoint is not acceptable. Recorded once per log, witness and witness size as a high-severity entry
    in the log concerned (detection flags it), in a transaction of its own."""
    outcome.refused.append((cp.log_name, status, reason))
    scope, _, scope_id = cp.log_name.partition(":")
    async with pool.acquire() as conn, conn.transaction():
        seen = await conn.fetchval(
            "SELECT true FROM audit.entries WHERE log_id = $1 AND action = $2 AND payload->>'witness' = $3 "
            "AND payload->>'witness_size' = $4 LIMIT 1",
            cp.log_id,
            REFUSED_ACTION,
            witness.name,
            str(witness_size),
        )
        if seen:
            return
        await append(
            conn,
            LogRef(scope, int(scope_id)),
            action=REFUSED_ACTION,
            subject_type="audit_log",  # type: ignore[arg-type]
            subject_id=cp.log_name,
            actor=Actor.system("audit_witness"),
            payload={
                "severity": "high",
                "witness": witness.name,
                "status": status,
                "reason": reason,
                "checkpoint_size": cp.size,
                "witness_size": str(witness_size),
            },
        )


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A log's latest checkpoint as a witness holds it, its cosignature verified with the witness's key."""

    witness: str
    log_name: str
    size: int
    root: bytes
    cosigned_at: datetime


async def fetch_witnessed(witnesses: list[WitnessRef]) -> tuple[list[WitnessedCheckpoint], list[str]]:
    """What each witness holds (``GET /logs``), only what carries its valid cosignature; and problems
    (a witness unreachable, or a checkpoint without its valid cosignature), which verification reports."""
    found: list[WitnessedCheckpoint] = []
    problems: list[str] = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for witness in witnesses:
            try:
                async with session.get(f"{witness.url}/logs") as r:
                    r.raise_for_status()
                    body = await r.text()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problems.append(f"witness {witness.name} could not be asked ({type(exc).__name__})")
                continue
            for block in filter(None, body.split("--\n")):
                text, _, line = block.rstrip("\n").rpartition("\n")
                try:
                    note = parse_checkpoint((text.rstrip("\n") + "\n\n" + line + "\n").encode())
                except NoteError:
                    problems.append(f"witness {witness.name} returned a malformed checkpoint")
                    continue
                at = verify_cosignature(note.text, line, witness.name, witness.public_key)
                name = log_name_of(note.origin)
                if at is None or name is None:
                    problems.append(
                        f"witness {witness.name}: a checkpoint of {note.origin} without its valid cosignature"
                    )
                    continue
                found.append(
                    WitnessedCheckpoint(
                        witness.name, name, note.size, note.root, datetime.fromtimestamp(at, UTC)
                    )
                )
    return found, problems
