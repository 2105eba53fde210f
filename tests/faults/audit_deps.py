"""``make audit-deps``: pip-audit on the installed dependencies, honest about what it could not check.

pip-audit reports "No known vulnerabilities found" even when it could not look a single package up (the
advisory service unreachable, or a package index that serves no per-release JSON). This wrapper counts
the packages actually audited and fails unless all of them were: exit 1 for known vulnerabilities, 2 when
some dependencies could not be audited. The last line is one JSON object with the counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    cmd = [str(ROOT / ".venv" / "bin" / "pip-audit"), "--skip-editable", "--progress-spinner", "off",
           "--format", "json", *argv]
    run = subprocess.run(cmd, capture_output=True, text=True)
    try:
        report = json.loads(run.stdout)
    except ValueError:
        print(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "pip-audit produced no report")
        print(json.dumps({"audited": 0, "vulnerable": None, "error": "pip-audit failed", "exit": run.returncode}))
        return 2
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason") and "editable" not in d["skip_reason"]]
    audited = [d for d in deps if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    for d in vulnerable:
        for v in d["vulns"]:
            print(f"{d['name']} {d['version']}: {v['id']} fixed in {', '.join(v.get('fix_versions') or ['?'])}")
    if skipped:
        reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
        print(f"{len(skipped)} of {len(deps)} dependencies could not be audited: {'; '.join(reasons)}")
    summary = {"dependencies": len(deps), "audited": len(audited), "not_audited": len(skipped),
               "vulnerable": len(vulnerable), "vulnerabilities": sum(len(d["vulns"]) for d in vulnerable)}
    print(json.dumps(summary))
    if vulnerable:
        return 1
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
