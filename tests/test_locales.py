"""One language at a time needs every text in both: a key missing in one language would show the other."""

from __future__ import annotations

import re
from pathlib import Path

from wartel.i18n import catalogue

_ROOT = Path(__file__).resolve().parents[1] / "wartel"
_LITERAL = re.compile(r"""\bt\(\s*'([a-z0-9_.]+)'\s*[,)]""")


def test_every_text_exists_in_both_languages() -> None:
    texts = catalogue()
    assert set(texts["id"]) == set(texts["en"]), sorted(set(texts["id"]) ^ set(texts["en"]))


def test_every_literal_key_a_template_shows_is_in_the_catalogue() -> None:
    texts = catalogue()
    used = {m.group(1) for p in (_ROOT / "templates").rglob("*.html") for m in _LITERAL.finditer(p.read_text())}
    assert used, "no keys found: the pattern no longer matches the templates"
    missing = sorted(k for k in used if k not in texts["id"])
    assert not missing, missing
