"""What each fault scenario found, collected across the pytest run for the one-line JSON summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPORT_ENV = "WARTEL_FAULTS_REPORT"


def record(scenario: str, **figures: Any) -> None:
    """Append one scenario's figures (acknowledged, lost, half_written, server_errors, verify_ok, …)."""
    line = json.dumps({"scenario": scenario, **figures}, sort_keys=True, default=str)
    print(f"[faults] {line}", flush=True)
    path = os.environ.get(REPORT_ENV)
    if path:
        with Path(path).open("a") as f:
            f.write(line + "\n")


def summarise(path: Path) -> dict[str, Any]:
    """One object: per-scenario figures and totals of the counters every scenario reports."""
    scenarios: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                scenarios[row.pop("scenario")] = row
    totals: dict[str, Any] = {}
    for key in ("acknowledged", "lost", "half_written", "server_errors"):
        totals[key] = sum(int(s.get(key, 0)) for s in scenarios.values())
    verdicts = [s["verify_ok"] for s in scenarios.values() if "verify_ok" in s]
    totals["verify_ok"] = bool(verdicts) and all(verdicts)
    return {"totals": totals, "scenarios": scenarios}
