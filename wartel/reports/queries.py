"""SQL kept in .sql files as named blocks (``-- name: x``), looked up by name from Python."""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^-- name: ([a-z_]+)\s*$", re.M)


def load_queries(path: Path) -> dict[str, str]:
    text = path.read_text()
    parts = _NAME.split(text)
    queries = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    if not queries:
        raise ValueError(f"no named queries in {path}")
    return queries
