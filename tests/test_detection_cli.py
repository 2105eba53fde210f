"""`wartel simulate` writes a region and its ground truth; `wartel detect evaluate` scores the rules on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wartel.db import DatabaseTarget

ROOT = Path(__file__).resolve().parent.parent


def _wartel(args: list[str], database: DatabaseTarget, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "WARTEL_DATABASE_URL": database.owner_dsn,
        "WARTEL_DATA_DIR": str(tmp_path),
        "WARTEL_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "wartel.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_simulate_then_evaluate_reports_precision_and_recall_per_rule(
    database: DatabaseTarget, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.json"
    sim = _wartel(
        [
            "simulate",
            "--facilities",
            "4",
            "--inmates",
            "320",
            "--days",
            "63",
            "--seed",
            "5",
            "--truth",
            str(truth),
        ],
        database,
        tmp_path,
    )
    assert sim["calls"] > 5000 and sim["injected"] >= 20 and truth.exists()
    report = _wartel(["detect", "evaluate", "--truth", str(truth)], database, tmp_path)
    assert set(report["rules"]) >= {"shared_number", "rights_starvation", "audit_tamper", "kiosk_mismatch"}
    assert report["recall"] == 1.0 and report["negatives_flagged"] == []
    assert all(
        r["false_positives"] <= (1 if rule == "volume_change" else 0) for rule, r in report["rules"].items()
    ), report["rules"]
    rerun = _wartel(["detect", "run", "--full", "--since", truth_start(truth)], database, tmp_path)
    assert rerun["kind"] == "full" and rerun["flags_new"] == 0


def truth_start(path: Path) -> str:
    return json.loads(path.read_text())["start"]


def test_evaluate_over_seeds_reports_the_target(database: DatabaseTarget, tmp_path: Path) -> None:
    report = _wartel(["detect", "evaluate", "--seeds", "7", "--sizes", "4x160x77"], database, tmp_path)
    assert report["seeds"] == [7] and report["sizes"] == [[4, 160, 77]] and report["lookalikes"] is True
    assert report["meets_target"] is True, report
    assert {r["precision_at_20"] for r in report["runs"]} == {1.0}
    env = {**os.environ, "WARTEL_DATABASE_URL": database.owner_dsn, "WARTEL_DATA_DIR": str(tmp_path)}
    bad = subprocess.run(
        [sys.executable, "-m", "wartel.cli", "detect", "evaluate", "--seeds", "one"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "--seeds" in bad.stderr, bad.stderr
