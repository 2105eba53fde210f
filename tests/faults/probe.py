"""Helpers for hostile-input tests: a fingerprint of everything the service could have written.

A refused request (any 4xx) must leave the database exactly as it found it. The fingerprint is one row
count and one md5 per table, over every table in ``public`` and ``audit``, so an INSERT, UPDATE or DELETE
anywhere shows up. Two things change on refused requests by design and are left out: the login attempt
ledger (a failed login is recorded so it can be throttled) and a token's ``last_used_at``.
"""

from __future__ import annotations

import asyncpg

# (schema, table) -> columns whose change is expected on any authenticated request; None: skip the table.
_VOLATILE: dict[tuple[str, str], frozenset[str] | None] = {
    ("public", "login_attempts"): None,
    ("public", "api_tokens"): frozenset({"last_used_at"}),
}


async def _fingerprint_sql(conn: asyncpg.Connection) -> str:
    rows = await conn.fetch(
        "SELECT c.table_schema, c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position) AS cols "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema IN ('public', 'audit') GROUP BY 1, 2 ORDER BY 1, 2")
    parts: list[str] = []
    for r in rows:
        key = (r["table_schema"], r["table_name"])
        if key in _VOLATILE and _VOLATILE[key] is None:
            continue
        skip = _VOLATILE.get(key) or frozenset()
        cols = [c for c in r["cols"] if c not in skip]
        ident = f'"{key[0]}"."{key[1]}"'  # catalog names, not values
        tup = "row(" + ", ".join(f'x."{c}"' for c in cols) + ")::text"
        label = f"'{key[0]}.{key[1]}'"
        digest = f"md5(coalesce(string_agg({tup}, '|' ORDER BY {tup}), ''))"
        parts.append(f"SELECT {label} AS t, count(*) AS n, {digest} AS h FROM {ident} x")  # noqa: S608
    return " UNION ALL ".join(parts)


class WriteProbe:
    """Takes fingerprints of the database; ``changed(before, after)`` names the tables that differ."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._sql: str | None = None

    async def snapshot(self) -> dict[str, tuple[int, str]]:
        if self._sql is None:
            self._sql = await _fingerprint_sql(self.conn)
        return {r["t"]: (r["n"], r["h"]) for r in await self.conn.fetch(self._sql)}

    @staticmethod
    def changed(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
        return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


def is_problem(status: int, content_type: str, body: bytes) -> str | None:
    """None when a 4xx/5xx response is proper problem+json; otherwise what is wrong with it."""
    import json

    if not content_type.startswith("application/problem+json"):
        return f"content type {content_type!r}, not application/problem+json"
    try:
        doc = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(doc, dict):
        return "body is not an object"
    missing = {"type", "title", "status", "code"} - doc.keys()
    if missing:
        return f"problem lacks {sorted(missing)}"
    if doc["status"] != status:
        return f"problem status {doc['status']} != HTTP status {status}"
    return None
