"""``make test-faults``: run every scenario marked ``faults``, then print one JSON line with what each found.

The last line printed is one JSON object: ``totals`` (acknowledged, lost, half_written, server_errors,
verify_ok over all scenarios), ``scenarios`` (each scenario's own figures) and ``pytest_exit``. The exit
code is pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults.report import REPORT_ENV, summarise  # noqa: E402


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="wartel-faults-") as tmp:
        report = Path(tmp) / "report.jsonl"
        env = dict(os.environ, **{REPORT_ENV: str(report)})
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "faults", "-p", "no:randomly", "-s", *argv]
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        summary = summarise(report)
    # Totals first: the line is read by people too.
    print(json.dumps({"totals": summary["totals"], "pytest_exit": rc, "scenarios": summary["scenarios"]}),
          flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
