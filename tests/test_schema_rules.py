"""Schema rules that keep the database ready to be distributed by facility (docs/architecture.md).

Every table in ``public`` with a ``facility_id`` column is facility-owned: ``facility_id`` must be part
of its primary key and of every unique or exclusion constraint and unique index, and the table must be
named in docs/architecture.md's list of facility-owned tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

ARCHITECTURE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"

_KEYS = """
SELECT c.relname AS table_name, i.relname AS index_name, x.indisprimary AS is_primary,
       coalesce(con.contype::text, 'i') AS kind,
       array(SELECT a.attname FROM unnest(x.indkey) AS k(attnum)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns
  FROM pg_index x
  JOIN pg_class c ON c.oid = x.indrelid
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
   AND (x.indisunique OR x.indisexclusion OR con.contype IN ('p', 'u', 'x'))
"""


async def _facility_owned(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attname = 'facility_id'"
        " AND NOT a.attisdropped")
    return {r["relname"] for r in rows}


async def test_facility_id_is_in_every_key_of_facility_owned_tables(owner_conn: asyncpg.Connection) -> None:
    owned = await _facility_owned(owner_conn)
    assert {"booths", "opening_hours", "closures", "bookings", "calls"} <= owned
    with_pk = {r["relname"] for r in await owner_conn.fetch(
        "SELECT c.relname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND con.contype = 'p'")}
    assert not owned - with_pk, f"facility-owned tables without a primary key: {sorted(owned - with_pk)}"
    offenders = [
        f"{r['table_name']}.{r['index_name']} ({', '.join(r['columns'])})"
        for r in await owner_conn.fetch(_KEYS)
        if r["table_name"] in owned and "facility_id" not in r["columns"]
    ]
    assert not offenders, (
        "keys of facility-owned tables must include facility_id (distribution column): " + "; ".join(offenders))


async def test_every_facility_owned_table_is_named_in_the_architecture(owner_conn: asyncpg.Connection) -> None:
    documented = set(re.findall(r"`([a-z_][a-z0-9_]*)`", ARCHITECTURE.read_text()))
    missing = await _facility_owned(owner_conn) - documented
    assert not missing, f"add these facility-owned tables to docs/architecture.md (Citus plan): {sorted(missing)}"


async def test_national_tables_do_not_pose_as_facility_owned(owner_conn: asyncpg.Connection) -> None:
    """Inmates and contacts follow a person across facilities, so they say current_facility_id instead."""
    owned = await _facility_owned(owner_conn)
    assert not {"inmates", "contacts", "users", "regions", "facilities"} & owned
