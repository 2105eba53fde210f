"""SQL kept in .sql files as named blocks (``-- name: x``), looked up by name from Python.

A ``-- fragment: x`` block is not a query: it is written once and stands in for every ``/*x*/`` marker in
the queries (e.g. each facility's period in its own time zone, which every report query needs).
"""

from __future__ import annotations

import re
from pathlib import Path

_BLOCK = re.compile(r"^-- (name|fragment): ([a-z_]+)\s*$", re.M)


def load_queries(path: Path) -> dict[str, str]:
    parts = _BLOCK.split(path.read_text())
    blocks = list(zip(parts[1::3], parts[2::3], parts[3::3], strict=True))
    fragments = {name: _strip_comments(body) for kind, name, body in blocks if kind == "fragment"}
    queries = {}
    for kind, name, body in blocks:
        if kind == "name":
            for fragment, text in fragments.items():
                body = body.replace(f"/*{fragment}*/", text)
            queries[name] = body.strip()
    if not queries:
        raise ValueError(f"no named queries in {path}")
    return queries


def _strip_comments(body: str) -> str:
    return "\n".join(line for line in body.strip().splitlines() if not line.lstrip().startswith("--"))
