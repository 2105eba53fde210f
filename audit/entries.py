"""Reading a log's entries in bulk, and checking one entry's row against its canonical text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from audit.log import leaf_hash
from audit.signing import format_time

# One round trip per chunk: the canonical texts joined by newlines (JSON escapes every newline inside a
# string, so a newline can only be the separator, unless the schema was tampered with) and the stored leaf
# hashes end to end, both aggregated in sequence order (the primary key gives the rows in that order, so
# PostgreSQL 16 and newer sort nothing: the plan is a bare index scan under the aggregate; 15, or a plan
# without that scan, sorts, and never reorders). The count tells whether every sequence number lo..hi is
# there, because the primary key makes them unique: the verifier checks once per run that it still does
# (:func:`derivation_problem`).
# The canonical text is generated from the row's columns by PostgreSQL (sql/0013), so the columns need no
# per-row check here; the server only names the first row filed under another log's name.
CHUNK_SQL = r"""
SELECT count(*) AS n,
       convert_to(string_agg(canonical, E'\n' ORDER BY seq), 'UTF8') AS canonical,
       string_agg(leaf_hash, ''::bytea ORDER BY seq) AS leaves,
       min(seq) FILTER (WHERE log_name IS DISTINCT FROM $4) AS column_mismatch
FROM audit.entries
WHERE log_id = $1 AND seq BETWEEN $2 AND $3
"""

# The same for a connection that reads text as raw UTF-8 bytes (the verifier's reading processes): the
# server then sends the joined texts as they are instead of copying them into a bytea first.
CHUNK_TEXT_SQL = CHUNK_SQL.replace("convert_to(string_agg(canonical, E'\\n' ORDER BY seq), 'UTF8')",
                                   "string_agg(canonical, E'\\n' ORDER BY seq)")

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
# The primary key that makes (log, sequence number) unique: without it a chunk's count would not prove the
# chunk whole (a duplicate could stand in for a missing entry).
_PRIMARY_KEY = """
SELECT i.indisunique AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
       AND (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ARRAY['log_id', 'seq']
FROM pg_index i JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'p'
WHERE i.indrelid = 'audit.entries'::regclass
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

    row = await conn.fetchrow(_GENERATION)
    if row is None or row["attgenerated"] != "s" or _EXPECTED_EXPRESSION not in (row["expression"] or ""):
        return "the canonical column is no longer generated from the row's columns"
    bodies = {r["proname"]: r for r in await conn.fetch(_FUNCTIONS)}
    for name, expected in EXPECTED_BODIES.items():
        fn = bodies.get(name)
        if fn is None or hashlib.sha256(f"{fn['lanname']}:{fn['body'].strip()}".encode()).hexdigest() != expected:
            return f"audit.{name} was redefined"
    if not await conn.fetchval(_PRIMARY_KEY):
        return "the primary key on (log_id, seq) is missing or changed"
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

    @property
    def complete(self) -> bool:
        """Every sequence number lo..hi present (unique by the primary key, so the count tells) and the
        server saw no column disagreement."""
        return self.count == self.hi - self.lo + 1 and self.column_mismatch is None


async def fetch_chunk(conn: asyncpg.Connection, log_id: int, lo: int, hi: int, log_name: str, *,
                      raw_text: bool = False) -> Chunk:
    """Entries lo..hi of a log in one round trip; ``raw_text``: ``conn`` decodes text as UTF-8 bytes."""
    row = await conn.fetchrow(CHUNK_TEXT_SQL if raw_text else CHUNK_SQL, log_id, lo, hi, log_name)
    return Chunk(log_id=log_id, lo=lo, hi=hi, count=row["n"], canonical=row["canonical"] or b"",
                 leaves=row["leaves"] or b"", column_mismatch=row["column_mismatch"])


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
