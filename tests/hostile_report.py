"""Counting what the hostile tests found, for ``make test-hostile``'s one-line JSON summary.

Each hostile test keeps a :class:`Tally` of the requests it sent and records it at the end (also when it
fails, so the summary shows what was found). ``tests/hostile_run.py`` adds the records up.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_ENV = "WARTEL_HOSTILE_REPORT"
COUNTERS = ("requests", "server_errors", "writes_from_refused", "over_budget", "scope_leaks")


@dataclass
class Tally:
    """What one hostile test saw. ``findings`` says what each counted failure was."""

    name: str
    requests: int = 0
    server_errors: int = 0
    writes_from_refused: int = 0
    over_budget: int = 0
    scope_leaks: int = 0
    slowest_ms: float = 0.0
    findings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def answered(
        self,
        label: str,
        status: int,
        elapsed_s: float = 0.0,
        *,
        budget_s: float | None = None,
        written: list[str] | None = None,
        refusals: tuple[int, ...] = (),
    ) -> None:
        """Count one answer. A 5xx is a server error unless the test named it as an explicit refusal
        (``refusals``: e.g. 503 with Retry-After when every heavy connection is busy)."""
        self.requests += 1
        self.slowest_ms = max(self.slowest_ms, round(elapsed_s * 1000, 1))
        if status >= 500 and status not in refusals:
            self.server_errors += 1
            self.findings.append(f"{label} -> {status}")
        if written and 400 <= status < 500:
            self.writes_from_refused += 1
            self.findings.append(f"{label} -> {status} wrote {written}")
        if budget_s is not None and elapsed_s > budget_s:
            self.over_budget += 1
            self.findings.append(f"{label} took {elapsed_s:.2f}s > {budget_s:.2f}s")

    def leak(self, label: str) -> None:
        self.scope_leaks += 1
        self.findings.append(f"scope leak: {label}")

    def failures(self) -> list[str]:
        return self.findings

    def record(self, **extra: Any) -> None:
        row = {
            "test": self.name,
            **{k: getattr(self, k) for k in COUNTERS},
            "slowest_ms": self.slowest_ms,
            "seconds": round(time.monotonic() - self.started, 1),
            **extra,
        }
        line = json.dumps(row, sort_keys=True, default=str)
        print(f"[hostile] {line}", flush=True)
        path = os.environ.get(REPORT_ENV)
        if path:
            with Path(path).open("a") as f:
                f.write(line + "\n")


def summarise(path: Path) -> dict[str, Any]:
    """Totals of every counter over all recorded tests, and each test's own line."""
    tests: dict[str, Any] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                tests[row.pop("test")] = row
    totals = {k: sum(int(t.get(k, 0)) for t in tests.values()) for k in COUNTERS}
    return {"totals": totals, "tests": tests}
