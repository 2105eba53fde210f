"""Report periods: a month, a quarter or a date range, each read in every facility's own time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from wartel.errors import InvalidInput
from wartel.http.bounds import DATE_MAX, DATE_MIN, MAX_RANGE_DAYS

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
MAX_DAYS = MAX_RANGE_DAYS  # a report's cost grows with its range
MONTH_PATTERN = r"^(?:20\d\d|2100)-(?:0[1-9]|1[0-2])$"
QUARTER_PATTERN = r"^(?:20\d\d|2100)-[Qq][1-4]$"


@dataclass(frozen=True)
class Period:
    """Calendar days ``start``..``end`` inclusive; a facility's day starts at its local midnight."""

    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def month_period(text: str, field: str = "month") -> Period:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not DATE_MIN.year <= int(m.group(1)) <= DATE_MAX.year:
        raise InvalidInput(f"{field} must look like 2026-01, years {DATE_MIN.year} to {DATE_MAX.year}",
                           code="invalid_period", field=field)
    start = date(int(m.group(1)), int(m.group(2)), 1)
    return Period(start, _next_month(start) - timedelta(days=1), f"{start:%Y-%m}")


def quarter_period(text: str, field: str = "quarter") -> Period:
    m = _QUARTER.match(text.strip().upper())
    if not m or not DATE_MIN.year <= int(m.group(1)) <= DATE_MAX.year:
        raise InvalidInput(f"{field} must look like 2026-Q1, years {DATE_MIN.year} to {DATE_MAX.year}",
                           code="invalid_period", field=field)
    start = date(int(m.group(1)), 3 * (int(m.group(2)) - 1) + 1, 1)
    end = _next_month(_next_month(_next_month(start))) - timedelta(days=1)
    return Period(start, end, f"{start.year}-Q{m.group(2)}")


def range_period(start: date, end: date) -> Period:
    if end < start:
        raise InvalidInput("the period ends before it starts", code="invalid_period", field="to")
    if not (DATE_MIN <= start and end <= DATE_MAX):
        raise InvalidInput(f"a report covers days between {DATE_MIN} and {DATE_MAX}", code="invalid_period",
                           field="from" if start < DATE_MIN else "to")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days", code="invalid_period", field="to")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}")


def resolve_period(*, month: str | None = None, quarter: str | None = None, start: date | None = None,
                   end: date | None = None) -> Period:
    """Exactly one of: a month, a quarter, or both dates."""
    given = [month is not None, quarter is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise InvalidInput("give one of: month, quarter, or from and to", code="invalid_period", field="month")
    if month is not None:
        return month_period(month)
    if quarter is not None:
        return quarter_period(quarter)
    if start is None or end is None:
        raise InvalidInput("a date range needs both from and to", code="invalid_period",
                           field="from" if start is None else "to")
    return range_period(start, end)


def previous_month(today: date) -> Period:
    first = today.replace(day=1)
    return month_period(f"{(first - timedelta(days=1)):%Y-%m}")


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)
