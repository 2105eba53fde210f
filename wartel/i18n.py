"""Bahasa Indonesia by default, English on request. Catalogues are ``wartel/locales/*.json``.

Each file holds ``{"id": {key: text}, "en": {key: text}}``; each area keeps its own file so the texts
live next to the feature that shows them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
_LOCALES = Path(__file__).resolve().parent / "locales"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(_LOCALES.glob("*.json")):
        data = json.loads(path.read_text())
        for lang in LANGUAGES:
            merged[lang].update(data.get(lang, {}))
    return merged


def t(lang: str, key: str, default: str | None = None, **values: object) -> str:
    """The text for ``key`` in ``lang``, falling back to Bahasa Indonesia, then to ``default`` or the key."""
    texts = catalogue()
    text = texts.get(lang, {}).get(key) or texts[DEFAULT_LANGUAGE].get(key) or default or key
    return text.format(**values) if values else text


def negotiate(accept_language: str | None, explicit: str | None = None, default: str = DEFAULT_LANGUAGE) -> str:
    """``?lang=`` or the session's choice first, then Accept-Language, then ``default`` (Bahasa Indonesia)."""
    if explicit in LANGUAGES:
        return explicit  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return default if default in LANGUAGES else DEFAULT_LANGUAGE
