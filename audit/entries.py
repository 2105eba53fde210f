"""Reading a log's entries in bulk, and checking one entry's row: its canonical text recomputed from its columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from audit.canonical import CANONICAL_SQL, NEEDS_ESCAPING_SQL, builtins_problem, canonical_text
from audit.log import leaf_hash
from audit.merkle import leaf_hashes

# One round trip per chunk: the canonical texts, derived from the raw columns by the verifier's own
# expression (audit/canonical.py; only built-in functions, never the canonical column or anything in the
# audit schema), joined by newlines (a newline can only be the separator: JSON escapes it, and a raw one in a
# column makes the count of texts wrong, which sends the chunk to the exact path), and the stored leaf
# hashes end to end, both aggregated in sequence order (the primary key gives the rows in that order, so
# PostgreSQL 16 and newer sort nothing; 15 sorts each chunk, and never reorders). The count tells whether
# every sequence number lo..hi is there, because the primary key makes them unique: the verifier checks once
# per run that it still does (:func:`derivation_problem`). ``needs_row_check`` names the first row filed under
# another log's name or with a double quote in one of its strings (the expression does not escape them).
CHUNK_SQL = f"""
SELECT pg_catalog.count(*) AS n,
       pg_catalog.convert_to(pg_catalog.string_agg({CANONICAL_SQL}, E'\\n' ORDER BY seq), 'UTF8') AS canonical,
       pg_catalog.string_agg(leaf_hash, ''::bytea ORDER BY seq) AS leaves,
       pg_catalog.min(seq) FILTER (WHERE log_name IS DISTINCT FROM $4 OR {NEEDS_ESCAPING_SQL}) AS needs_row_check
FROM audit.entries
WHERE log_id = $1 AND seq BETWEEN $2 AND $3
"""  # noqa: S608 (constants only: the expression of audit/canonical.py, no value)

# The same for a connection that reads text as raw UTF-8 bytes (the verifier's reading processes): the
# server then sends the joined texts as they are instead of copying them into a bytea first.
CHUNK_TEXT_SQL = CHUNK_SQL.replace("pg_catalog.convert_to(pg_catalog.string_agg(", "(pg_catalog.string_agg(") \
    .replace("ORDER BY seq), 'UTF8') AS canonical", "ORDER BY seq)) AS canonical")

# The exact path: every raw column, the payload as jsonb's own output text whatever codec the connection
# has, and the stored canonical text, which is compared but never trusted.
ROWS_SQL = """
SELECT log_id, seq, log_name, leaf_hash, canonical, recorded_at, actor_type, actor_id, actor_role, action,
       subject_type, subject_id, pg_catalog.textin(pg_catalog.jsonb_out(payload)) AS payload, request_id
FROM audit.entries WHERE log_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq
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


async def derivation_problem(conn: asyncpg.Connection) -> str | None:
    """Why the fast path's reading can no longer be trusted (``None``: it can): a built-in it uses was
    redefined, or (log, seq) is no longer unique. Then every row is checked one by one in Python.

    Nothing in the audit schema matters here: the canonical column and the functions behind it are not read.
    """
    problem = await builtins_problem(conn)
    if problem is not None:
        return problem
    # A view, a rule or row-level security in place of the table could show the verifier other rows than
    # the API sees; the rows everyone reads must be the table's own.
    kind = await conn.fetchrow("SELECT relkind::text AS relkind, relrowsecurity FROM pg_catalog.pg_class "
                               "WHERE oid = 'audit.entries'::pg_catalog.regclass")
    if kind is None or kind["relkind"] != "r" or kind["relrowsecurity"]:
        return "audit.entries is no longer a plain table (view, rule or row security)"
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
    needs_row_check: int | None

    @property
    def complete(self) -> bool:
        """Every sequence number lo..hi present (unique by the primary key, so the count tells), no row
        filed under another log, no string the expression could not quote, and no backslash in the texts
        (a string that needed escaping would have put one in the genuine text)."""
        return (self.count == self.hi - self.lo + 1 and self.needs_row_check is None
                and b"\\" not in self.canonical)


async def fetch_chunk(conn: asyncpg.Connection, log_id: int, lo: int, hi: int, log_name: str, *,
                      raw_text: bool = False) -> Chunk:
    """Entries lo..hi of a log in one round trip; ``raw_text``: ``conn`` decodes text as UTF-8 bytes."""
    row = await conn.fetchrow(CHUNK_TEXT_SQL if raw_text else CHUNK_SQL, log_id, lo, hi, log_name)
    return Chunk(log_id=log_id, lo=lo, hi=hi, count=row["n"], canonical=row["canonical"] or b"",
                 leaves=row["leaves"] or b"", needs_row_check=row["needs_row_check"])


async def verified_leaves(conn: asyncpg.Connection, log_id: int, lo: int, hi: int,
                          log_name: str) -> list[bytes] | None:
    """The stored leaf hashes of entries lo..hi once each was recomputed from its row's columns (fast path,
    else row by row); ``None`` when any entry is missing or does not hold."""
    chunk = await fetch_chunk(conn, log_id, lo, hi, log_name)
    if chunk.complete:
        texts = chunk.canonical.split(b"\n") if chunk.count else []
        leaves = leaf_hashes(texts)
        if len(texts) == chunk.count and b"".join(leaves) == chunk.leaves:
            return leaves
    rows = await conn.fetch(ROWS_SQL, log_id, lo, hi)
    if len(rows) != hi - lo + 1:
        return None
    if any(row_problem(row, lo + i, log_name) is not None for i, row in enumerate(rows)):
        return None
    return [bytes(r["leaf_hash"]) for r in rows]


def row_problem(row: dict[str, Any] | asyncpg.Record, expected_seq: int, log_name: str) -> str | None:
    """Why this row does not hold (``None`` when it does), from its raw columns (:data:`ROWS_SQL`): it is
    filed under its log, and the canonical text recomputed from its columns hashes to the stored leaf hash
    and equals the stored canonical text."""
    if row["seq"] != expected_seq:
        return f"sequence number {expected_seq} is missing"
    if row["log_name"] != log_name:
        return f"the row is filed under log {row['log_name']!r}"
    text = canonical_text(row)
    if leaf_hash(text) != bytes(row["leaf_hash"]):
        return "leaf hash does not match the entry's columns"
    if row["canonical"] != text:
        return "the stored canonical text differs from the entry's columns"
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
