"""``wartel audit …``: verify the logs (online or on an export), make checkpoints, export."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from audit import Actor
from audit.checkpoints import (
    Checkpoint,
    TreeCache,
    export_document,
    key_retirements,
    list_checkpoints,
    make_checkpoints,
    public_keys,
    read_export_document,
    retire_key,
)
from audit.errors import AuditError
from audit.signing import generate, install_successor
from audit.tlog import origin_of
from audit.verify import LogResult, export_log_lines, verify_database, verify_export
from audit.witness import Witness, WitnessConfig, create_witness_app
from audit.witnessing import fetch_witnessed, submit_checkpoints
from wartel.audit_service import log_labels, signing_key, witnesses
from wartel.commands import command, owner_conn
from wartel.config import Settings
from wartel.db import connect, resolve_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Progress:
    """Progress on stderr, at most twice a second, for runs long enough to need it."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, done: int, total: int, log_name: str) -> None:
        now = time.monotonic()
        if now - self.started < 1.0 or (now - self.shown < 0.5 and done < total):
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-6)
        pct = 100 * done / total if total else 100
        print(f"\rverifying {log_name}: {done}/{total} entries ({pct:.0f}%, {rate:,.0f}/s)", end="",
              file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.shown:
            print(file=sys.stderr)


_EXPORT_LABELS: dict[str, str] = {}  # facility code -> log name, as the exported documents label them


def _read_checkpoint_files(paths: list[str]) -> tuple[list[Checkpoint], dict[str, bytes]]:
    checkpoints: list[Checkpoint] = []
    keys: dict[str, bytes] = {}
    for path in paths:
        doc = json.loads(Path(path).read_text())
        cps, file_keys = read_export_document(doc)
        checkpoints.extend(cps)
        keys.update(file_keys)
        for item in doc.get("checkpoints", []):
            if isinstance(item, dict) and isinstance(item.get("label"), str):
                _EXPORT_LABELS[item["label"]] = str(item.get("log"))
    return checkpoints, keys


def _report(results: list[LogResult], labels: dict[str, str]) -> int:
    failed = [r for r in results if not r.ok]
    for r in results:
        label = labels.get(r.log_name, r.log_name)
        if r.ok:
            print(f"ok      {label} ({r.log_name}): {r.size} entries, {r.checkpoints_checked} checkpoints match"
                  f"{r.witness_report()}")
        else:
            where = f" first bad seq {r.first_bad_seq}:" if r.first_bad_seq is not None else ""
            print(f"FAILED  {label} ({r.log_name}):{where} {r.problem}")
            for note in r.notes:
                print(f"        also: {note}")
    if failed:
        first = failed[0]
        label = labels.get(first.log_name, first.log_name)
        print(f"verification FAILED for {len(failed)} of {len(results)} logs; first: {label} "
              f"seq {first.first_bad_seq if first.first_bad_seq is not None else '-'}", file=sys.stderr)
        return EXIT_FAILED
    print(f"all {len(results)} logs verified")
    return EXIT_OK


async def _log_ids_for(conn: Any, facility: str | None) -> list[int] | None:
    if facility is None:
        return None
    fid = await conn.fetchval("SELECT id FROM facilities WHERE code = $1", facility)
    if fid is None:
        raise AuditError(f"no facility with code {facility}", code="facility_not_found", field="facility")
    rows = await conn.fetch("SELECT log_id FROM audit.logs WHERE scope = 'facility' AND scope_id = $1", fid)
    return [r["log_id"] for r in rows]


async def _log_names_for(conn: Any, facility: str | None) -> list[str] | None:
    """The facility's log name: from the registry, else from the exported checkpoints' labels (a facility
    deleted from the registry with its log is still named by what the regional office kept)."""
    if facility is None:
        return None
    fid = await conn.fetchval("SELECT id FROM facilities WHERE code = $1", facility)
    if fid is not None:
        return [f"facility:{fid}"]
    if facility in _EXPORT_LABELS:
        return [_EXPORT_LABELS[facility]]
    raise AuditError(f"no facility with code {facility}", code="facility_not_found", field="facility")


@command("audit verify")
def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        external, external_keys = _read_checkpoint_files(args.checkpoints or [])
    except (OSError, ValueError, AuditError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = _Progress() if not args.quiet else None

    if args.offline:
        try:
            with open(args.offline, encoding="utf-8") as stream:
                results = verify_export(stream, external=external, external_keys=external_keys,
                                        progress=progress)
        except (OSError, AuditError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if progress:
            progress.finish()
        return _report(results, {})

    async def go() -> int:
        target, conn = await owner_conn(settings)
        try:
            try:
                names = await _log_names_for(conn, args.facility)
            except AuditError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            configured = witnesses(settings)
            witnessed, problems = await fetch_witnessed(configured) if configured else ([], [])
            for problem in problems:
                print(f"warning: {problem}", file=sys.stderr)
            # A second reader lets the database's share of the work use a second core.
            extra = [await connect(target.owner_dsn)] if (os.cpu_count() or 1) > 1 else []
            try:
                results = await verify_database(conn, names=names, external=external,
                                                external_keys=external_keys, progress=progress,
                                                workers=args.workers, store=not args.no_store, more_conns=extra,
                                                dsn=target.owner_dsn, witnesses=configured, witnessed=witnessed)
            finally:
                for c in extra:
                    await c.close()
            if progress:
                progress.finish()
            labels = {**{name: code for code, name in _EXPORT_LABELS.items()}, **await log_labels(conn)}
            return _report(results, labels)
        finally:
            await conn.close()

    return asyncio.run(go())


@command("audit checkpoint")
def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            made, problems = await make_checkpoints(conn, signing_key(settings),
                                                    await _log_ids_for(conn, args.facility))
        except AuditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await conn.close()
        for cp in made:
            print(f"signed {cp.log_name} at size {cp.size}: {cp.root_hash.hex()}")
        for problem in problems:
            print(f"NOT signed: {problem}", file=sys.stderr)
        if not made and not problems:
            print("every log's last checkpoint is current")
        refused = await _witness(settings)
        return EXIT_FAILED if problems or refused else EXIT_OK

    return asyncio.run(go())


async def _witness(settings: Settings) -> bool:
    """Submit the newest checkpoints to the configured witnesses; True when one refused."""
    configured = witnesses(settings)
    if not configured:
        return False
    pool = await asyncpg.create_pool(resolve_target(settings).owner_dsn, min_size=1, max_size=2)
    try:
        outcome = await submit_checkpoints(pool, signing_key(settings), configured, TreeCache())
    finally:
        await pool.close()
    for name, size in outcome.cosigned:
        print(f"cosigned {name} at size {size}")
    for name, status, reason in outcome.refused:
        print(f"REFUSED by a witness: {name} ({status}): {reason}", file=sys.stderr)
    for name in outcome.unreachable:
        print(f"witness {name} unreachable: it catches up at the next checkpoint", file=sys.stderr)
    return bool(outcome.refused)


@command("witness")
def cmd_witness(args: argparse.Namespace, settings: Settings) -> int:
    """Run a witness (C2SP tlog-witness) with its own key and storage under ``--dir``."""
    directory = Path(args.dir)
    if args.forget:
        if not (args.reason or "").strip():
            print("error: --forget needs --reason (e.g. the restore it follows)", file=sys.stderr)
            return EXIT_USAGE
        held = Witness(WitnessConfig(name=args.name, directory=directory)).forget(origin_of(args.forget),
                                                                                  args.reason.strip())
        print(f"{args.forget}: forgot size {held}" if held is not None else f"{args.forget}: nothing held")
        return EXIT_OK
    config = WitnessConfig(name=args.name, directory=directory,
                           log_keys=tuple(bytes.fromhex(k) for k in args.log_key or []),
                           log_key_files=tuple(Path(f) for f in args.log_key_file or []))
    app = create_witness_app(config)
    print(f"witness {args.name} on http://{args.host}:{args.port} (public key in {directory / 'witness.pub'})",
          file=sys.stderr, flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)
    return EXIT_OK


@command("audit rotate-key")
def cmd_audit_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Replace the checkpoint signing key: the new one signs from now on, the old one is retired."""

    reason = (args.reason or "").strip()
    if not reason:
        print("error: --reason is required (why the key is replaced: schedule, staff change, suspected leak)",
              file=sys.stderr)
        return EXIT_USAGE
    path = settings.signing_key_path.resolve()
    old = signing_key(settings)
    new = generate()
    actor = Actor.system("cli")  # as every CLI command records itself (no OS user name in the log)

    async def go() -> int:
        _, conn = await owner_conn(settings)
        try:
            async with conn.transaction():
                # The retirement and the file swap commit together: should the commit fail after the swap,
                # the new key is in use and merely not yet recorded (run the command again); a running
                # service reads the replaced file at its next checkpoint.
                retired_at = await retire_key(conn, old, new, reason=reason, actor=actor)
                aside = install_successor(path, old, new)
                made, problems = await make_checkpoints(conn, new)
        except AuditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await conn.close()
        print(f"retired key {old.key_id} at {retired_at.isoformat()}; key {new.key_id} signs from now on")
        for cp in made:
            print(f"signed {cp.log_name} at size {cp.size} with the new key")
        for problem in problems:
            print(f"NOT signed: {problem}", file=sys.stderr)
        print(f"The retired private key is at {aside}: move it offline or destroy it. Export the checkpoints "
              "again (`wartel audit export --checkpoints-only`) so the regional office holds the new public key.")
        return EXIT_FAILED if problems else EXIT_OK

    return asyncio.run(go())


async def checkpoints_document(conn: Any, settings: Settings, log_ids: list[int] | None,
                               every: bool = False) -> dict[str, Any]:
    """The signed checkpoints document: each log's latest checkpoint, or with ``every`` all of them."""

    checkpoints = await list_checkpoints(conn, log_ids, limit=None, latest_only=not every)
    return export_document(checkpoints, signing_key(settings), await public_keys(conn), await log_labels(conn),
                           await key_retirements(conn))


@command("audit export")
def cmd_audit_export(args: argparse.Namespace, settings: Settings) -> int:
    async def go(out: Any) -> int:
        _, conn = await owner_conn(settings)
        try:
            log_ids = await _log_ids_for(conn, args.facility)
            if args.checkpoints_only:
                json.dump(await checkpoints_document(conn, settings, log_ids, args.all), out, indent=2)
                out.write("\n")
            else:
                async for block in export_log_lines(conn, log_ids):
                    out.write(block)
        except AuditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            await conn.close()
        return EXIT_OK

    if not args.output:
        return asyncio.run(go(sys.stdout))
    with open(args.output, "w", encoding="utf-8") as out:
        return asyncio.run(go(out))


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify, checkpoint and export the tamper-evident audit log")
    actions = audit.add_subparsers(dest="sub", required=True, metavar="ACTION")

    p = actions.add_parser("verify", help="recompute every log's tree and hold it against the checkpoints; "
                                          "exit 1 naming the facility and first bad sequence number")
    p.add_argument("--facility", help="facility code: verify only its log")
    p.add_argument("--checkpoints", action="append", metavar="FILE",
                   help="exported checkpoints document (from `wartel audit export --checkpoints-only`)")
    p.add_argument("--offline", metavar="FILE", help="verify an export (`wartel audit export`) without the database")
    p.add_argument("--workers", type=int, help="processes that read and hash (default: one per core)")
    p.add_argument("--no-store", action="store_true", help="do not record the outcome in the database")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(cmd="audit verify")

    p = sub.add_parser("witness", help="run a witness of the audit logs (C2SP tlog-witness) with its own key and "
                                       "storage: the regional office's check the service cannot rewrite")
    p.add_argument("--dir", required=True, help="the witness's own directory (key, SQLite state)")
    p.add_argument("--name", default="wartel-witness", help="the witness's key name in its cosignatures")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--log-key", action="append", metavar="HEX", help="trusted log public key (raw Ed25519, hex)")
    p.add_argument("--log-key-file", action="append", metavar="FILE",
                   help="a file holding a trusted log key: hex public key, or the service's PEM key (demo), "
                        "read again when it changes")
    p.add_argument("--forget", metavar="LOG", help="operator's decision after a restore: drop what the witness "
                                                    "holds for LOG (e.g. facility:3), recorded, and exit")
    p.add_argument("--reason", help="with --forget: why (kept in the witness's refusals table)")
    p.set_defaults(cmd="witness")

    p = actions.add_parser("checkpoint", help="sign a checkpoint of every log that grew, now")
    p.add_argument("--facility", help="facility code: only its log")
    p.set_defaults(cmd="audit checkpoint")

    p = actions.add_parser("rotate-key", help="replace the checkpoint signing key: a new key signs from now on, "
                                              "the old one is retired (recorded, and reported if it signs later)")
    p.add_argument("--reason", required=True, help="why the key is replaced (kept with the retirement)")
    p.set_defaults(cmd="audit rotate-key")

    p = actions.add_parser("export", help="write entries and checkpoints as JSON lines (for offline verify), "
                                          "or with --checkpoints-only the checkpoints document")
    p.add_argument("--facility", help="facility code: only its log")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--checkpoints-only", action="store_true",
                   help="the small signed checkpoints document the regional office keeps")
    p.add_argument("--all", action="store_true", help="with --checkpoints-only: every checkpoint, not only "
                                                      "each log's latest")
    p.set_defaults(cmd="audit export")
