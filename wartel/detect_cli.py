"""``wartel simulate`` and ``wartel detect run|evaluate``: a simulated region, rescans and their evaluation."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.detection.engine import run_full, run_incremental
from wartel import migrations
from wartel.commands import command
from wartel.config import Settings
from wartel.db import connect, create_pool, resolve_target
from wartel.simulate import simulate
from wartel.simulate.evaluate import DEFAULT_SIZES, evaluate, evaluate_many

EXIT_OK, EXIT_USAGE = 0, 2


def _truth_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.truth) if args.truth else settings.data_dir / "simulation-truth.json"


async def _open(settings: Settings) -> tuple[Any, Any, Any]:
    target = resolve_target(settings)
    owner = await connect(target.owner_dsn)
    await migrations.migrate(owner)
    pool = await create_pool(target.app_dsn, settings, min_size=1)
    return target, owner, pool


@command("simulate")
def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        _, owner, pool = await _open(settings)
        try:
            started = time.perf_counter()
            region, truth = await simulate(
                owner,
                facilities=args.facilities,
                inmates=args.inmates,
                days=args.days,
                seed=args.seed,
                booking_days=args.booking_days,
                lookalikes=args.lookalikes,
            )
            calls = await owner.fetchval(
                "SELECT count(*) FROM calls c JOIN facilities f ON f.id = c.facility_id WHERE f.region_id = $1",
                region.region_id,
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            await pool.close()
            await owner.close()
        path = _truth_path(args, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(truth.to_json())
        print(
            json.dumps(
                {
                    "region_id": region.region_id,
                    "facilities": len(region.facility_ids),
                    "start": region.start.isoformat(),
                    "end": region.end.isoformat(),
                    "calls": calls,
                    "injected": len(truth.expected),
                    "truth": str(path),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
        )
        return EXIT_OK

    return asyncio.run(go())


@command("detect run")
def cmd_detect_run(args: argparse.Namespace, settings: Settings) -> int:
    async def go() -> int:
        _, owner, pool = await _open(settings)
        await owner.close()
        try:
            started = time.perf_counter()
            if args.full:
                since = (
                    datetime.combine(args.since, datetime.min.time(), UTC)
                    if args.since
                    else datetime.now(UTC) - timedelta(days=365)
                )
                results = await run_full(pool, since=since)
            else:
                results = await run_incremental(pool)
        finally:
            await pool.close()
        print(
            json.dumps(
                {
                    "kind": "full" if args.full else "incremental",
                    "seconds": round(time.perf_counter() - started, 2),
                    "flags_new": sum(r.inserted for r in results),
                    "flags_touched": sum(r.touched for r in results),
                    "rules": {
                        r.rule_id: {"new": r.inserted, "touched": r.touched, "s": round(r.seconds, 2)}
                        for r in results
                    },
                }
            )
        )
        return EXIT_OK

    return asyncio.run(go())


@command("detect evaluate")
def cmd_detect_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    if args.seeds:
        return _evaluate_many(args, settings)
    path = _truth_path(args, settings)
    if not path.exists():
        print(
            f"error: no ground truth at {path}; run `wartel simulate` first or pass --truth", file=sys.stderr
        )
        return EXIT_USAGE
    truth = json.loads(path.read_text())

    async def go() -> int:
        _, owner, pool = await _open(settings)
        try:
            if not args.no_run:
                since = datetime.combine(date.fromisoformat(truth["start"]), datetime.min.time(), UTC)
                await run_full(pool, since=since)
            report = await evaluate(owner, truth)
        finally:
            await pool.close()
            await owner.close()
        print(json.dumps(report, indent=2 if args.pretty else None))
        return EXIT_OK

    return asyncio.run(go())


def _sizes(text: str) -> tuple[tuple[int, int, int], ...]:
    """ "4x320x84,6x600x98": facilities x inmates x days, comma-separated."""
    out = []
    for part in text.split(","):
        f, i, d = (int(x) for x in part.lower().split("x"))
        out.append((f, i, d))
    return tuple(out)


def _evaluate_many(args: argparse.Namespace, settings: Settings) -> int:

    try:
        seeds = [int(x) for x in args.seeds.split(",")]
        sizes = _sizes(args.sizes) if args.sizes else DEFAULT_SIZES
    except ValueError:
        print(
            "error: --seeds is a comma-separated list of integers, --sizes like 4x320x84,6x600x98",
            file=sys.stderr,
        )
        return EXIT_USAGE

    async def go() -> int:
        _, owner, pool = await _open(settings)
        try:
            report = await evaluate_many(
                owner, pool, seeds=seeds, sizes=sizes, lookalikes=not args.no_lookalikes
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            await pool.close()
            await owner.close()
        print(json.dumps(report, indent=2 if args.pretty else None, default=str))
        return EXIT_OK

    return asyncio.run(go())


def add_detection_commands(sub: Any) -> None:
    p = sub.add_parser("simulate", help="generate a simulated region with every detection pattern injected")
    p.add_argument("--facilities", type=int, default=6)
    p.add_argument("--inmates", type=int, default=600)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--booking-days",
        type=int,
        default=None,
        help="days (back from today) whose calls also get booking rows; default: all",
    )
    p.add_argument(
        "--truth", help="where to write the ground truth (default: DATA_DIR/simulation-truth.json)"
    )
    p.add_argument(
        "--lookalikes",
        action="store_true",
        help="also generate benign look-alikes (holiday surge, migrant workers' families, outage, ...)",
    )
    p.set_defaults(cmd="simulate")

    detect = sub.add_parser("detect", help="anomaly detection").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = detect.add_parser("run", help="run detection: one incremental pass, or a full rescan with --full")
    p.add_argument("--full", action="store_true", help="rescan every rule from --since")
    p.add_argument("--since", type=date.fromisoformat, help="first day to rescan (default: a year ago)")
    p.set_defaults(cmd="detect run")
    p = detect.add_parser(
        "evaluate", help="rescan a simulated region and print per-rule precision and recall"
    )
    p.add_argument("--truth", help="the ground truth written by `wartel simulate`")
    p.add_argument("--no-run", action="store_true", help="evaluate the flags already there, without a rescan")
    p.add_argument(
        "--seeds",
        help="simulate and evaluate one region per seed and size (comma-separated seeds); "
        "reports per-rule precision, recall, look-alike flags and precision@20",
    )
    p.add_argument("--sizes", help="with --seeds: facilities x inmates x days, e.g. 4x320x84,6x600x98")
    p.add_argument("--no-lookalikes", action="store_true", help="with --seeds: patterns only")
    p.add_argument("--pretty", action="store_true")
    p.set_defaults(cmd="detect evaluate")
