"""The ``wartel`` command: serve, migrate, demo, user and token management, audit and reports."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any

from audit import Actor
from wartel import migrations
from wartel.audit_cli import add_audit_commands
from wartel.cluster import add_cluster_commands
from wartel.commands import COMMANDS, command, owner_conn
from wartel.config import Settings
from wartel.db import connect, ensure_target_database, resolve_target, stop_embedded
from wartel.demo import load_demo
from wartel.detect_cli import add_detection_commands
from wartel.errors import DomainError
from wartel.logging import configure_logging
from wartel.reports.cli import add_report_commands


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@command("serve")
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port:
        settings = settings.model_copy(update={"port": args.port})
    target = resolve_target(settings)

    async def prepare() -> list[str]:
        await ensure_target_database(target)
        conn = await connect(target.owner_dsn)
        try:
            await migrations.migrate(conn)
            if settings.demo:

                return await load_demo(conn)
            return []
        finally:
            await conn.close()

    logins = _run(prepare())
    if logins:
        print("Demo logins (username / password):", flush=True)
        for line in logins:
            print(f"  {line}", flush=True)
    workers = settings.worker_count()
    print(f"Wartel serving on http://{settings.host}:{settings.port} ({workers} process"
          f"{'es' if workers > 1 else ''})", flush=True)
    if workers == 1:
        _serve_process(settings, target, reuse_port=False)
        return 0
    # One process per core: a Python process handles HTTP and its share of the database work on one core,
    # so N processes answer on one port (SO_REUSEPORT: the kernel spreads the connections) with N cores.
    # Migrations and demo data ran once, above; each process runs the scheduler too (every job run takes its
    # advisory lock, so it still happens once) and listens for the live board on its own connection.
    import multiprocessing

    from wartel.metrics import process_gone, share_between_processes

    # /metrics adds up every process's counts, whichever process answers the scrape.
    share_between_processes(settings.data_dir / "metrics")
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_serve_process, args=(settings, target), kwargs={"reuse_port": True,
                                                                                        "parent": os.getpid()},
                                name=f"wartel-serve-{n}", daemon=False) for n in range(1, workers)]
    for child in children:
        child.start()
    try:
        _serve_process(settings, target, reuse_port=True)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: aiohttp shuts down gracefully
        for child in children:
            child.join(timeout=15)
            if child.pid is not None:
                process_gone(child.pid)
    return 0


def _serve_process(settings: Settings, target: Any, *, reuse_port: bool, parent: int | None = None) -> None:
    """One serving process: the app on uvloop. A worker (``parent`` set) also stops when its parent is gone."""
    import signal

    import uvloop
    from aiohttp import web

    from wartel.app import create_app

    if parent is not None:
        configure_logging(settings.log_format, settings.log_level)  # a spawned process starts afresh
    app = create_app(settings, target=target, migrate=False)
    if parent is not None:
        async def follow_parent(app: web.Application) -> Any:
            async def watch() -> None:
                while os.getppid() == parent:  # noqa: ASYNC110 - nothing signals a parent's death
                    await asyncio.sleep(1)
                os.kill(os.getpid(), signal.SIGTERM)  # orphaned (the parent was killed): shut down

            task = asyncio.get_running_loop().create_task(watch())
            yield
            task.cancel()

        app.cleanup_ctx.append(follow_parent)
    # uvloop roughly halves the per-request CPU of the event loop and asyncpg's protocol handling.
    web.run_app(app, host=settings.host, port=settings.port, loop=uvloop.new_event_loop(), reuse_port=reuse_port,
                print=None, access_log=None, shutdown_timeout=10,
                # Also bounds a client that sends its headers slowly: it is cut off after this long.
                keepalive_timeout=settings.request_timeout_s)


@command("migrate")
def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            done = await migrations.migrate(conn, dry_run=args.dry_run)
        except migrations.MigrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            await conn.close()
        verb = "would apply" if args.dry_run else "applied"
        for m in done:
            print(f"{verb} {m.version:04d}_{m.name}")
        if not done:
            print("schema is current")
        return 0

    return _run(go())


@command("demo")
def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            await migrations.migrate(conn)
            for line in await load_demo(conn):
                print(line)
        finally:
            await conn.close()
        return 0

    return _run(go())


@command("user create")
def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: argon2 takes most of a second to load, and no other command needs it.
    from wartel.users import UserInput, create_user

    password = args.password or getpass.getpass("Password: ")

    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            user_id = await create_user(conn, UserInput(
                username=args.username, full_name=args.full_name or args.username, role=args.role,
                facility_code=args.facility, region_code=args.region, password=password))
        except DomainError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            await conn.close()
        print(f"user {args.username} created (id {user_id})")
        return 0

    return _run(go())


@command("token create")
def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the credentials module loads argon2 (most of a second), which no other command needs.
    from wartel.auth.credentials import create_api_token

    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", args.username)
            if user_id is None:
                print(f"error: no user {args.username}", file=sys.stderr)
                return 2
            _, token = await create_api_token(conn, user_id, args.name, actor=Actor.system("cli"))
        finally:
            await conn.close()
        print(token)
        return 0

    return _run(go())


@command("db stop")
def cmd_db_stop(args: argparse.Namespace, settings: Settings) -> int:
    print("stopped" if stop_embedded(settings.data_dir) else "not running")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wartel", description="Wartelsuspas service.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="apply migrations, load demo data (if enabled) and serve HTTP")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(cmd="serve")

    p = sub.add_parser("migrate", help="apply pending SQL migrations")
    p.add_argument("--dry-run", action="store_true", help="list what would be applied, apply nothing")
    p.set_defaults(cmd="migrate")

    p = sub.add_parser("demo", help="load demo data (once; a second run keeps it)")
    p.set_defaults(cmd="demo")

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="sub", required=True, metavar="ACTION")
    p = user.add_parser("create", help="create a user")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["officer", "security", "regional", "admin"])
    p.add_argument("--facility", help="facility code (officer, facility security)")
    p.add_argument("--region", help="region code (regional, regional security)")
    p.add_argument("--full-name")
    p.add_argument("--password", help="asked for when not given")
    p.set_defaults(cmd="user create")

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="sub", required=True,
                                                                             metavar="ACTION")
    p = token.add_parser("create", help="create an API token for a user and print it once")
    p.add_argument("username")
    p.add_argument("--name", default="cli")
    p.set_defaults(cmd="token create")

    db = sub.add_parser("db", help="the embedded PostgreSQL").add_subparsers(dest="sub", required=True,
                                                                            metavar="ACTION")
    p = db.add_parser("stop", help="stop the embedded PostgreSQL server")
    p.set_defaults(cmd="db stop")

    # Subcommands of other areas (audit, detection, reports, simulation) register themselves here.
    for extend in (add_audit_commands, add_detection_commands, add_report_commands, add_cluster_commands):
        extend(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return COMMANDS[args.cmd](args, settings)


if __name__ == "__main__":
    sys.exit(main())
