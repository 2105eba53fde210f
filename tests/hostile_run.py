"""``make test-hostile``: run every hostile test, then print one JSON line with what they found.

The last line printed is one JSON object: ``totals`` (requests, server_errors, writes_from_refused,
over_budget, scope_leaks over every hostile test), ``pytest_exit`` and ``tests`` (each test's own figures).
The exit code is pytest's. ``WARTEL_HOSTILE_CASES`` sets the size of the schemathesis run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile_report import REPORT_ENV, summarise  # noqa: E402


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="wartel-hostile-") as tmp:
        report = Path(tmp) / "report.jsonl"
        env = dict(os.environ, **{REPORT_ENV: str(report)})
        files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_hostile_*.py"))
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not faults", *files, *argv]
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        summary = summarise(report)
    print(json.dumps({"totals": summary["totals"], "pytest_exit": rc, "tests": summary["tests"]}), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
