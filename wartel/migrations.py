"""Forward-only SQL migrations from ``sql/NNNN_name.sql``, recorded with a checksum, one runner at a time."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every runner of this schema.
_LOCK_KEY = 0x57A7_0001


class MigrationError(Exception):
    """The migrations on disk and the database disagree; nothing was applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name not of the form NNNN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {sorted(versions)}")
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def pending(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Migrations not applied yet; raises :class:`MigrationError` if an applied file was changed."""
    migrations = load_migrations() if migrations is None else migrations
    has_table = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    applied: dict[int, str] = {}
    if has_table:
        applied = {r["version"]: r["checksum"] for r in await conn.fetch(
            "SELECT version, checksum FROM schema_migrations")}
    for m in migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationError(
                f"migration {m.version:04d}_{m.name}.sql was changed after it was applied "
                f"(checksum {applied[m.version][:12]}… in the database, {m.checksum[:12]}… on disk); "
                "write a new migration instead"
            )
    return [m for m in migrations if m.version not in applied]


async def migrate(conn: asyncpg.Connection, *, dry_run: bool = False,
                  migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration in one transaction. Returns what was (or, dry, would be) applied."""
    async with conn.transaction():
        # Waits for a concurrent runner (another service process starting) instead of failing:
        # once it has finished, there is simply nothing left to do here.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        todo = await pending(conn, migrations)
        if dry_run:
            return todo
        for m in todo:
            try:
                await conn.execute(m.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {m.version:04d}_{m.name}.sql failed: {exc}") from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                m.version, m.name, m.checksum,
            )
            log.info("migration applied", version=m.version, migration=m.name)  # "name" is masked as personal
    return todo


async def is_current(conn: asyncpg.Connection) -> bool:
    try:
        return not await pending(conn)
    except MigrationError:
        return False
