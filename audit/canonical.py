"""The canonical text of an audit entry: the exact bytes its leaf hash covers, defined here and only here.

The text is built from the entry's columns as they are stored (the values the API, the pages and detection
read), so verification recomputes it from those columns instead of trusting anything the database defines:
the generated ``canonical`` column, ``audit.canonical_text`` and ``audit.canonical_entry`` exist for the
append path only, and no reader relies on them. ``docs/audit.md`` specifies the bytes.

:data:`PIECES` is the one definition. :func:`canonical_text` renders it in Python (the exact, row-by-row
path of verification, and anything that needs one entry), and :data:`CANONICAL_SQL` renders the same pieces
as a SQL expression over the raw columns made only of PostgreSQL's built-in functions and operators, all
schema-qualified, for the verifier's fast path, which reads a chunk's texts in one round trip and hashes them
in Python. That expression quotes strings without escaping them, so it is exact only for strings with no
``"``, ``\\`` or control character; the fast path proves that per chunk (:data:`NEEDS_ESCAPING_SQL` names the
first row with a quote, and a chunk whose texts hold a backslash goes to the exact path: a string needing
any escape would have given the genuine text a backslash). :func:`builtins_problem` checks once per run that
the built-in functions the expression uses are still PostgreSQL's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

Kind = Literal["literal", "string", "json", "time", "integer"]

# (kind, column or literal text), in the order the text has them: keys sorted, json_build_object's
# '"key" : value' layout (sql/0010 defined the first entries' bytes, and a leaf hash must never change).
PIECES: tuple[tuple[Kind, str], ...] = (
    ("literal", '{"action" : '),
    ("string", "action"),
    ("literal", ', "actor" : {"id" : '),
    ("string", "actor_id"),
    ("literal", ', "role" : '),
    ("string", "actor_role"),
    ("literal", ', "type" : '),
    ("string", "actor_type"),
    ("literal", '}, "log" : '),
    ("string", "log_name"),
    ("literal", ', "payload" : '),
    ("json", "payload"),
    ("literal", ', "recorded_at" : '),
    ("time", "recorded_at"),
    ("literal", ', "request_id" : '),
    ("string", "request_id"),
    ("literal", ', "seq" : '),
    ("integer", "seq"),
    ("literal", ', "subject" : {"id" : '),
    ("string", "subject_id"),
    ("literal", ', "type" : '),
    ("string", "subject_type"),
    ("literal", '}, "v" : 1}'),
)
STRING_COLUMNS = tuple(name for kind, name in PIECES if kind == "string")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # always six digits of microseconds, UTC
_SQL_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def json_string(value: str | None) -> str:
    """A JSON string as PostgreSQL's ``to_json(text)`` writes it: ``"``, ``\\`` and control characters
    escaped (``\\b \\f \\n \\r \\t``, others ``\\u00xx``), everything else as it is; ``None`` is ``null``."""
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def canonical_text(row: Any) -> str:
    """The canonical text of one entry from its raw columns (a mapping: record or dict).

    ``payload`` is the jsonb column's text as PostgreSQL outputs it (``jsonb_out``: keys by length then
    bytes, ``"key": value`` and ``, `` separators, numbers as stored), taken verbatim; ``recorded_at`` a
    datetime; ``seq`` an int; the rest strings or ``None``.
    """
    out: list[str] = []
    for kind, name in PIECES:
        if kind == "literal":
            out.append(name)
        elif kind == "string":
            out.append(json_string(row[name]))
        elif kind == "json":
            out.append("null" if row[name] is None else row[name])
        elif kind == "time":
            at: datetime = row[name]
            out.append(f'"{at.astimezone(UTC).strftime(TIME_FORMAT)}"')
        else:
            out.append(str(int(row[name])))
    return "".join(out)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Columns the table declares NOT NULL: their quotes go into the neighbouring literals, one concatenation
# fewer each (a NULL there, possible only by editing the catalog, makes the whole text NULL, string_agg
# skips it, and the chunk's count of texts sends it to the exact path).
_NOT_NULL = frozenset(
    {"action", "actor_type", "log_name", "subject_id", "subject_type", "seq", "recorded_at"}
)


def _sql_terms() -> list[str]:
    """The SQL terms of :data:`PIECES`, adjacent literals merged (each ``||`` copies the text so far)."""
    terms: list[str] = []
    pending = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            terms.append(_sql_literal(pending))
            pending = ""

    for kind, name in PIECES:
        if kind == "literal":
            pending += name
        elif kind == "string" and name in _NOT_NULL:
            # Quoted without escaping: exact only where no escape is needed, proven per chunk.
            pending += '"'
            flush()
            terms.append(name)
            pending = '"'
        elif kind == "string":
            flush()
            terms.append(
                f"coalesce('\"' OPERATOR(pg_catalog.||) {name} OPERATOR(pg_catalog.||) '\"', 'null')"
            )
        elif kind == "json":
            # The type's own output function, not a cast: a cast from jsonb to text can be created by the
            # owner, and would change what the verifier reads but not what the API reads.
            flush()
            terms.append(f"coalesce(pg_catalog.textin(pg_catalog.jsonb_out({name})), 'null')")
        elif kind == "time":
            pending += '"'
            flush()
            terms.append(
                f"pg_catalog.to_char(pg_catalog.timezone('UTC', {name}), {_sql_literal(_SQL_TIME_FORMAT)})"
            )
            pending = '"'
        else:
            flush()
            terms.append(f"pg_catalog.textin(pg_catalog.int8out({name}))")
    flush()
    return terms


# The canonical text as a SQL expression over the raw columns of audit.entries.
CANONICAL_SQL = " OPERATOR(pg_catalog.||) ".join(_sql_terms())
# True for a row one of whose strings holds a double quote (the fast path's quoting would be wrong there).
NEEDS_ESCAPING_SQL = " OR ".join(f"pg_catalog.strpos({c}, '\"') > 0" for c in STRING_COLUMNS)

# The built-in functions, aggregates, operator and type output functions the verifier's reading queries
# use, with the C function each must still be. A superuser can repoint a built-in (UPDATE pg_proc) to a
# function of their own; then it is no longer 'internal' with its own C symbol, and this says so.
_BUILTINS = {
    "pg_catalog.textcat(text,text)": "textcat",
    "pg_catalog.textin(cstring)": "textin",
    "pg_catalog.jsonb_out(jsonb)": "jsonb_out",
    "pg_catalog.int8out(bigint)": "int8out",
    "pg_catalog.to_char(timestamp without time zone,text)": "timestamp_to_char",
    "pg_catalog.timezone(text,timestamp with time zone)": "timestamptz_zone",
    "pg_catalog.strpos(text,text)": "textpos",
    "pg_catalog.convert_to(text,name)": "pg_convert_to",
    "pg_catalog.texteq(text,text)": "texteq",
    "pg_catalog.textsend(text)": "textsend",
    "pg_catalog.textout(text)": "textout",
    "pg_catalog.string_agg(text,text)": "aggregate_dummy",
    "pg_catalog.string_agg(bytea,bytea)": "aggregate_dummy",
    "pg_catalog.count()": "aggregate_dummy",
    "pg_catalog.min(bigint)": "aggregate_dummy",
}
_AGGREGATES = {
    "pg_catalog.string_agg(text,text)": ("string_agg_transfn", "string_agg_finalfn"),
    "pg_catalog.string_agg(bytea,bytea)": ("bytea_string_agg_transfn", "bytea_string_agg_finalfn"),
    "pg_catalog.count()": ("int8inc", "-"),
    "pg_catalog.min(bigint)": ("int8smaller", "-"),
}
_BUILTINS_SQL = """
SELECT 'function ' || p.oid::pg_catalog.regprocedure::text AS what, l.lanname || ':' || p.prosrc AS found
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.oid = ANY($1::text[]::pg_catalog.regprocedure[])
UNION ALL
SELECT 'aggregate ' || a.aggfnoid::pg_catalog.regprocedure::text, a.aggtransfn::text || ' ' || a.aggfinalfn::text
  FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = ANY($2::text[]::pg_catalog.regprocedure[])
UNION ALL
SELECT 'operator ||', o.oprcode::text FROM pg_catalog.pg_operator o
 WHERE o.oid = 'pg_catalog.||(text,text)'::pg_catalog.regoperator
UNION ALL
SELECT 'type ' || t.typname::text, t.typoutput::text || ' ' || t.typsend::text FROM pg_catalog.pg_type t
 WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace
   AND t.typname IN ('text', 'bytea', 'int8', 'jsonb', 'timestamptz')
UNION ALL
SELECT 'cast ' || c.castsource::pg_catalog.regtype::text || ' -> text', c.castfunc::text FROM pg_catalog.pg_cast c
 WHERE c.casttarget = 'pg_catalog.text'::pg_catalog.regtype AND c.oid >= 16384
"""
_EXPECTED_TYPES = {
    "text": "textout textsend",
    "bytea": "byteaout byteasend",
    "int8": "int8out int8send",
    "jsonb": "jsonb_out jsonb_send",
    "timestamptz": "timestamptz_out timestamptz_send",
}


async def builtins_problem(conn: asyncpg.Connection) -> str | None:
    """Why the built-ins the verifier's queries use can no longer be trusted (``None``: they can)."""
    rows = await conn.fetch(_BUILTINS_SQL, list(_BUILTINS), list(_AGGREGATES))
    found = {r["what"]: r["found"] for r in rows}
    for signature, symbol in _BUILTINS.items():
        shown = signature.removeprefix("pg_catalog.")
        got = next(
            (v for k, v in found.items() if k.startswith("function ") and _same_signature(k, signature)), None
        )
        if got != f"internal:{symbol}":
            return f"the built-in {shown} was redefined ({got})"
    for signature, (trans, final) in _AGGREGATES.items():
        got = next(
            (v for k, v in found.items() if k.startswith("aggregate ") and _same_signature(k, signature)),
            None,
        )
        if got != f"{trans} {final}":
            return f"the built-in aggregate {signature} was redefined ({got})"
    if found.get("operator ||") != "textcat":
        return "the built-in operator || on text was redefined"
    for name, expected in _EXPECTED_TYPES.items():
        if found.get(f"type {name}") != expected:
            return f"the output function of type {name} was changed"
    extra = [k for k in found if k.startswith("cast ")]
    if extra:
        return f"a cast to text was added ({extra[0]})"
    return None


def _same_signature(shown: str, signature: str) -> bool:
    """regprocedure prints without the schema when pg_catalog is on the search path; compare without it."""
    return shown.split(" ", 1)[1].removeprefix("pg_catalog.") == signature.removeprefix("pg_catalog.")
