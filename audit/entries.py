"""Reading a log's entries in bulk, and checking one entry's row against its canonical text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from audit.log import leaf_hash
from audit.signing import format_time

# One round trip per chunk: the sequence numbers (an array), the canonical texts joined by
# newlines (JSON escapes every newline inside a string, so a newline can only be the separator, unless the
# schema was tampered with) and the stored leaf hashes end to end, all three aggregated in one pass over the
# same rows, so in the same order. The rows come along the primary key; the order is checked rather than
# imposed on the aggregates: the sequence numbers show the order the rows really came in, and the fast path
# takes a chunk only when they are exactly lo..hi, so no plan can make it wrong, only send a chunk down the
# exact path. The canonical text is generated from the row's columns by PostgreSQL (sql/0013), so the
# columns need no per-row check here; the server only names the first row filed under another log's name.
CHUNK_SQL = r"""
SELECT count(*) AS n,
       array_agg(seq) AS seqs,
       convert_to(string_agg(canonical, E'\n'), 'UTF8') AS canonical,
       string_agg(leaf_hash, ''::bytea) AS leaves,
       min(seq) FILTER (WHERE log_name IS DISTINCT FROM $4) AS column_mismatch
FROM (SELECT seq, canonical, leaf_hash, log_name FROM audit.entries
      WHERE log_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq) AS e
"""

# The same for a connection that reads text as raw UTF-8 bytes (the verifier's reading processes): the
# server then sends the joined texts as they are instead of copying them into a bytea first.
CHUNK_TEXT_SQL = CHUNK_SQL.replace("convert_to(string_agg(canonical, E'\\n'), 'UTF8')", "string_agg(canonical, E'\\n')")

ROWS_SQL = """
SELECT * FROM audit.entries WHERE log_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq
"""

# How the canonical column must be defined for the fast path to hold (sql/0013).
_GENERATION = """
SELECT a.attgenerated::text AS attgenerated, pg_get_expr(d.adbin, d.adrelid) AS expression
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'audit.entries'::regclass AND a.attname = 'canonical' AND NOT a.attisdropped
"""
_FUNCTIONS = r"""
SELECT p.proname, l.lanname, regexp_replace(p.prosrc, '\s+', ' ', 'g') AS body
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'audit'::regnamespace AND p.proname IN ('canonical_text', 'canonical_entry')
"""
_EXPECTED_EXPRESSION = ("canonical_text(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action, "
                        "subject_type, subject_id, payload, request_id)")
# SHA-256 of "language:body" (body whitespace-normalised) as sql/0012 and sql/0014 define them. A migration
# that redefines either function must update these (tests/test_audit_tamper.py fails otherwise).
EXPECTED_BODIES = {
    "canonical_entry": "da0bcdf0e36b87c14623210455b687cbc2dff356663547dc309eff851f4fbd32",
    "canonical_text": "06f1029afeb65321cfc1ad39bf7c546e79aa75d8cc7857d337aa6eecb9c961ef",
}


async def derivation_problem(conn: asyncpg.Connection) -> str | None:
    """Why the canonical column can no longer be trusted to follow the row's columns (``None``: it can)."""
    import hashlib

    row = await conn.fetchrow(_GENERATION)
    if row is None or row["attgenerated"] != "s" or _EXPECTED_EXPRESSION not in (row["expression"] or ""):
        return "the canonical column is no longer generated from the row's columns"
    bodies = {r["proname"]: r for r in await conn.fetch(_FUNCTIONS)}
    for name, expected in EXPECTED_BODIES.items():
        fn = bodies.get(name)
        if fn is None or hashlib.sha256(f"{fn['lanname']}:{fn['body'].strip()}".encode()).hexdigest() != expected:
            return f"audit.{name} was redefined"
    return None


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
    seqs: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every sequence number lo..hi present, in order, and the server saw no column disagreement."""
        return (self.count == self.hi - self.lo + 1 and self.column_mismatch is None
                and self.seqs == list(range(self.lo, self.hi + 1)))


async def fetch_chunk(conn: asyncpg.Connection, log_id: int, lo: int, hi: int, log_name: str, *,
                      raw_text: bool = False) -> Chunk:
    """Entries lo..hi of a log in one round trip; ``raw_text``: ``conn`` decodes text as UTF-8 bytes."""
    row = await conn.fetchrow(CHUNK_TEXT_SQL if raw_text else CHUNK_SQL, log_id, lo, hi, log_name)
    return Chunk(log_id=log_id, lo=lo, hi=hi, count=row["n"], canonical=row["canonical"] or b"",
                 leaves=row["leaves"] or b"", column_mismatch=row["column_mismatch"], seqs=row["seqs"] or [])


def row_problem(row: dict[str, Any] | asyncpg.Record, expected_seq: int, log_name: str) -> str | None:
    """Why this row does not hold (``None`` when it does): its canonical text, leaf hash and columns must
    agree. Python's own check, used where the fast path saw something wrong and for offline exports."""
    canonical = row["canonical"]
    if row["seq"] != expected_seq:
        return f"sequence number {expected_seq} is missing"
    if row["log_name"] != log_name:
        return f"the row is filed under log {row['log_name']!r}"
    if leaf_hash(canonical) != bytes(row["leaf_hash"]):
        return "leaf hash does not match the canonical text"
    try:
        body = json.loads(canonical)
    except ValueError:
        return "canonical text is not JSON"
    if not isinstance(body, dict):
        return "canonical text is not a JSON object"
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
        return "the entry sits at another position than its canonical text says"
    return None
