"""Reading a log's entries in bulk, and checking one entry's row against its canonical text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from audit.log import leaf_hash
from audit.signing import format_time

# One round trip per chunk: the canonical texts joined by newlines (JSON escapes every newline inside a
# string, so a newline can only be the separator, unless a row was tampered with) and the stored leaf
# hashes end to end. The server also names the first row whose columns no longer produce its canonical
# text. All of it reads the primary key in order, so the aggregates need no sort.
CHUNK_SQL = r"""
SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi,
       convert_to(string_agg(canonical, E'\n' ORDER BY seq), 'UTF8') AS canonical,
       string_agg(leaf_hash, ''::bytea ORDER BY seq) AS leaves,
       min(seq) FILTER (WHERE canonical IS DISTINCT FROM audit.canonical_entry(
           audit.log_name(l.scope, l.scope_id), seq, recorded_at, actor_type, actor_id, actor_role, action,
           subject_type, subject_id, payload, request_id)) AS column_mismatch
FROM audit.entries e JOIN audit.logs l USING (log_id)
WHERE e.log_id = $1 AND e.seq BETWEEN $2 AND $3
"""

ROWS_SQL = """
SELECT e.*, audit.log_name(l.scope, l.scope_id) AS log_name
FROM audit.entries e JOIN audit.logs l USING (log_id)
WHERE e.log_id = $1 AND e.seq BETWEEN $2 AND $3 ORDER BY e.seq
"""


@dataclass
class Chunk:
    """Entries ``lo..hi`` of one log as the fast path reads them."""

    log_id: int
    lo: int
    hi: int
    count: int
    canonical: bytes
    leaves: bytes
    column_mismatch: int | None

    @property
    def complete(self) -> bool:
        """Every sequence number lo..hi present and the server saw no column disagreement."""
        return self.count == self.hi - self.lo + 1 and self.column_mismatch is None


async def fetch_chunk(conn: asyncpg.Connection, log_id: int, lo: int, hi: int) -> Chunk:
    row = await conn.fetchrow(CHUNK_SQL, log_id, lo, hi)
    return Chunk(log_id=log_id, lo=lo, hi=hi, count=row["n"], canonical=row["canonical"] or b"",
                 leaves=row["leaves"] or b"", column_mismatch=row["column_mismatch"])


MOVED = "the row sits at another position than its canonical text says"


def row_problem(row: dict[str, Any] | asyncpg.Record, expected_seq: int) -> str | None:
    """Why this row does not hold (``None`` when it does): its canonical text, leaf hash and columns must
    agree. Python's own check, used where the fast path saw something wrong and for offline exports."""
    canonical = row["canonical"]
    if row["seq"] != expected_seq:
        return f"sequence number {expected_seq} is missing"
    if leaf_hash(canonical) != bytes(row["leaf_hash"]):
        return "leaf hash does not match the canonical text"
    try:
        body = json.loads(canonical)
    except ValueError:
        return "canonical text is not JSON"
    if not isinstance(body, dict):
        return "canonical text is not a JSON object"
    if body.get("seq") != row["seq"] or body.get("log") != row["log_name"]:
        return MOVED
    expected = {
        "v": 1,
        "log": row["log_name"],
        "seq": row["seq"],
        "recorded_at": format_time(row["recorded_at"]),
        "actor": {"id": row["actor_id"], "role": row["actor_role"], "type": row["actor_type"]},
        "action": row["action"],
        "subject": {"id": row["subject_id"], "type": row["subject_type"]},
        "request_id": row["request_id"],
        "payload": row["payload"] if not isinstance(row["payload"], str) else json.loads(row["payload"]),
    }
    for key, value in expected.items():
        if body.get(key) != value:
            return f"column {key!r} disagrees with the canonical text"
    if set(body) != set(expected):
        return "canonical text has unexpected fields"
    return None


def canonical_problem(log_name: str, seq: int, canonical: str, stored_leaf: bytes) -> str | None:
    """The offline check of one exported entry: its leaf hash, and the log and position it claims."""
    if leaf_hash(canonical) != stored_leaf:
        return "leaf hash does not match the canonical text"
    try:
        body = json.loads(canonical)
    except ValueError:
        return "canonical text is not JSON"
    if not isinstance(body, dict) or body.get("log") != log_name or body.get("seq") != seq:
        return MOVED
    return None
