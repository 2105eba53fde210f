"""The Jinja2 environment for pages and printable reports: autoescaped, texts from the locale catalogue."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from wartel.i18n import DEFAULT_LANGUAGE, t

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# What people in Indonesia call their three zones; Pontianak keeps western time (WIB).
ZONE_ABBREVIATIONS = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
                      "Asia/Jayapura": "WIT"}
# CLDR patterns by language (Babel): weekday and month names, and each language's clock ("10.00" / "10:00").
_DATETIME_PATTERN = {"id": "EEE, d MMM y HH.mm", "en": "EEE, d MMM y HH:mm"}
_DAY_PATTERN = "EEEE, d MMMM y"


def zone_name(tz: str | None) -> str:
    """WIB, WITA or WIT for an Indonesian zone; the zone's own name elsewhere (UTC for none)."""
    return ZONE_ABBREVIATIONS.get(tz or "", tz or "UTC")


def format_local(value: datetime | None, tz: str | None, lang: str) -> str:
    """``Kam, 3 Des 2026 10.00 WITA``: a moment as people in ``tz`` read it, in ``lang``."""
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz)) if tz else value
    pattern = _DATETIME_PATTERN.get(lang, _DATETIME_PATTERN[DEFAULT_LANGUAGE])
    return f"{format_datetime(local, pattern, locale=lang)} {zone_name(tz)}"


def format_day(value: date | None, lang: str) -> str:
    """``Jumat, 4 Desember 2026``: a day with its weekday, in ``lang``."""
    return "—" if value is None else format_date(value, _DAY_PATTERN, locale=lang)


@pass_context
def _localtime(ctx: Context, value: datetime | None, tz: str | None = None, fmt: str | None = None) -> str:
    """With ``fmt`` (a clock time such as ``%H:%M``, the same in both languages) as strftime; otherwise the
    weekday, date, time and zone name in the page's language."""
    if value is None:
        return "—"
    if fmt is None:
        return format_local(value, tz, ctx.get("lang", DEFAULT_LANGUAGE))
    return value.astimezone(ZoneInfo(tz)).strftime(fmt) if tz else value.strftime(fmt)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text


@pass_context
def _day(ctx: Context, value: date | None) -> str:
    return format_day(value, ctx.get("lang", DEFAULT_LANGUAGE))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, enable_async=False)
    env.filters.update(localtime=_localtime, percent=_percent, number=_number, day=_day, zone=zone_name)
    return env


def render_template(name: str, lang: str, **context: Any) -> str:
    """Render ``name`` in ``lang``; templates call ``t('key')`` for every text a person reads."""
    return environment().get_template(name).render(t=partial(t, lang), lang=lang, **context)
