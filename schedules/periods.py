"""Quota periods: a week from 00:00 Monday or a month from the 1st, in the facility's own time zone.

Indonesian zones have no daylight saving, but nothing here assumes it: bounds are computed as local
midnights and converted with zoneinfo.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["week", "month"]


def period_start(day: date, period: Period) -> date:
    """First local day of the period containing ``day``."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period_start(start: date, period: Period) -> date:
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def local_day(at: datetime, tz: str) -> date:
    """The facility-local calendar day of an aware instant."""
    return at.astimezone(ZoneInfo(tz)).date()


def period_of(at: datetime, tz: str, period: Period) -> date:
    """The period (by its first local day) an aware instant falls in, at a facility in zone ``tz``."""
    return period_start(local_day(at, tz), period)


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def period_bounds(start: date, tz: str, period: Period) -> tuple[datetime, datetime]:
    """The period as a half-open UTC interval [start, end)."""
    return local_midnight(start, tz), local_midnight(next_period_start(start, period), tz)
