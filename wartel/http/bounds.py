"""The one set of date and time input types every request model uses, with their bounds in the OpenAPI document.

Why bounds at all: a date near the edge of the calendar (0001-01-01 at a UTC+9 facility, 9999-12-31 plus a
day) overflows Python's and PostgreSQL's date arithmetic inside the domain and used to answer 500 or scan for
15 s. Every date the service is given lies in ``DATE_MIN``..``DATE_MAX`` (admission and release dates reach
back further: long sentences started before 2000). Why one rule per field: a time-of-day either is the
facility's local wall clock (``LocalTime``, ``LocalDateTime``: an offset is refused, never silently dropped)
or is an instant (``Timestamp``: an offset is required, a naive value is refused).

The JSON Schema of each type carries its bounds as ``formatMinimum``/``formatMaximum`` (the keywords JSON
Schema validators such as ajv-formats read for formatted strings), a ``pattern`` for the shape and the years,
and a sentence in ``description``; pydantic would otherwise drop date bounds from the schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import AfterValidator, TypeAdapter, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from wartel.errors import InvalidInput
from wartel.registry.inmates import EARLIEST_ADMISSION

DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2100, 12, 31)
HISTORY_MIN = EARLIEST_ADMISSION  # the registry's rule for admission and release dates (long sentences)
# The longest range a report or a search covers: what a regional office asks for is a month, a quarter or a
# year (366 days in a leap year). Longer ones are refused, not left to the statement budget.
MAX_RANGE_DAYS = 366

_YEAR = r"(?:19[5-9]\d|20\d\d|2100)"
_YEAR_2000 = r"(?:20\d\d|2100)"
_MONTH_DAY = r"(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"

DATE_PATTERN = rf"^{_YEAR_2000}-{_MONTH_DAY}$"
HISTORY_DATE_PATTERN = rf"^{_YEAR}-{_MONTH_DAY}$"
LOCAL_TIME_PATTERN = rf"^{_CLOCK}$"
LOCAL_DATETIME_PATTERN = rf"^{_YEAR_2000}-{_MONTH_DAY}T{_CLOCK}$"
TIMESTAMP_PATTERN = rf"^{_YEAR_2000}-{_MONTH_DAY}T{_CLOCK}{_OFFSET}$"

_INSTANT_MIN = datetime(2000, 1, 1, tzinfo=UTC)
_INSTANT_END = datetime(2101, 1, 1, tzinfo=UTC)


def _date_within(low: date, high: date) -> Any:
    def check(value: date) -> date:
        if not low <= value <= high:
            raise PydanticCustomError(
                "date_out_of_range",
                "a date between {low} and {high}",
                {"low": low.isoformat(), "high": high.isoformat()},
            )
        return value

    return check


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "offset_not_allowed", "the facility's local time without an offset, e.g. 08:00"
        )
    return value


def _local_datetime(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "offset_not_allowed",
            "the facility's local date and time without an offset, e.g. 2026-08-17T00:00",
        )
    if not DATE_MIN <= value.date() <= DATE_MAX:
        raise PydanticCustomError(
            "date_out_of_range",
            "a date between {low} and {high}",
            {"low": DATE_MIN.isoformat(), "high": DATE_MAX.isoformat()},
        )
    return value


def _timestamp(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "offset_required", "an instant with its offset, e.g. 2026-08-17T08:00:00+07:00"
        )
    if not _INSTANT_MIN <= value < _INSTANT_END:
        raise PydanticCustomError(
            "date_out_of_range",
            "an instant between {low} and {high}",
            {"low": DATE_MIN.isoformat(), "high": DATE_MAX.isoformat()},
        )
    return value


def _parse(adapter: TypeAdapter[Any], raw: str, field: str) -> Any:
    try:
        return adapter.validate_python(raw.strip())
    except ValidationError as exc:
        raise InvalidInput(f"{field}: {exc.errors()[0]['msg']}", code="validation_failed", field=field) from exc


def parse_date(raw: str, field: str) -> date:
    """A date typed into a page's form or query, within the service's bounds; InvalidInput on ``field``."""
    return _parse(_DATE, raw, field)


def parse_local_datetime(raw: str, field: str) -> datetime:
    """A page form's local date and time (``datetime-local``): no offset, within the bounds."""
    return _parse(_LOCAL_DATETIME, raw, field)


def parse_timestamp(raw: str, field: str) -> datetime:
    """An instant a page handed out (a slot's start): with its offset, within the bounds."""
    return _parse(_TIMESTAMP, raw, field)


def _schema(fmt: str, pattern: str, low: str, high: str, about: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "format": fmt,
            "pattern": pattern,
            "formatMinimum": low,
            "formatMaximum": high,
            "description": about,
        }
    )


BoundedDate = Annotated[
    date,
    AfterValidator(_date_within(DATE_MIN, DATE_MAX)),
    _schema(
        "date",
        DATE_PATTERN,
        DATE_MIN.isoformat(),
        DATE_MAX.isoformat(),
        f"A calendar date, {DATE_MIN} to {DATE_MAX}.",
    ),
]
"""A calendar date the service plans or reports on."""

HistoryDate = Annotated[
    date,
    AfterValidator(_date_within(HISTORY_MIN, DATE_MAX)),
    _schema(
        "date",
        HISTORY_DATE_PATTERN,
        HISTORY_MIN.isoformat(),
        DATE_MAX.isoformat(),
        f"A calendar date, {HISTORY_MIN} to {DATE_MAX}; not in the future (the facility's today).",
    ),
]
"""Admission and release dates; the domain refuses one after the facility's today."""

LocalTime = Annotated[
    time,
    AfterValidator(_local_time),
    # No "format": JSON Schema's "time" is RFC 3339's full-time, which requires the offset we refuse.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "The facility's local wall-clock time, HH:MM or HH:MM:SS, no offset.",
        }
    ),
]

LocalDateTime = Annotated[
    datetime,
    AfterValidator(_local_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_DATETIME_PATTERN,
            "formatMinimum": "2000-01-01T00:00:00",
            "formatMaximum": "2100-12-31T23:59:59",
            "description": "The facility's local date and time without an offset (refused), "
            f"e.g. 2026-08-17T00:00, {DATE_MIN} to {DATE_MAX}.",
        }
    ),
]

Timestamp = Annotated[
    datetime,
    AfterValidator(_timestamp),
    _schema(
        "date-time",
        TIMESTAMP_PATTERN,
        "2000-01-01T00:00:00Z",
        "2100-12-31T23:59:59Z",
        "An instant in RFC 3339 with its offset (a value without one is refused), "
        f"{DATE_MIN} to {DATE_MAX} UTC.",
    ),
]

_DATE: TypeAdapter[date] = TypeAdapter(BoundedDate)
_LOCAL_DATETIME: TypeAdapter[datetime] = TypeAdapter(LocalDateTime)
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
