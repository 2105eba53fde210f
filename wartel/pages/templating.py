"""The Jinja2 environment for pages and printable reports: autoescaped, texts from the locale catalogue."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from wartel.i18n import t

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _localtime(value: datetime | None, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime(fmt) if tz else value.strftime(fmt)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text


def _day(value: date | None) -> str:
    return "—" if value is None else value.isoformat()


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, enable_async=False)
    env.filters.update(localtime=_localtime, percent=_percent, number=_number, day=_day)
    return env


def render_template(name: str, lang: str, **context: Any) -> str:
    """Render ``name`` in ``lang``; templates call ``t('key')`` for every text a person reads."""
    return environment().get_template(name).render(t=partial(t, lang), lang=lang, **context)
