"""Base classes for request and response bodies."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from wartel.errors import InvalidInput

# Every integer the service stores is a PostgreSQL bigint. One beyond it used to reach the database and come
# back as a 422 without a field; now it is refused by name, and the schema says so.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def _beyond_bigint(value: Any) -> bool:
    if type(value) is int:
        return not BIGINT_MIN <= value <= BIGINT_MAX
    return isinstance(value, list | tuple | set | frozenset) and any(_beyond_bigint(v) for v in value)


def state_bigint_bounds(schema: dict[str, Any]) -> None:
    """Add bigint's bounds to every integer property (and list of integers) that states none of its own."""
    for prop in schema.get("properties", {}).values():
        for branch in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
            if isinstance(branch, dict) and branch.get("type") == "integer":
                branch.setdefault("minimum", BIGINT_MIN)
                branch.setdefault("maximum", BIGINT_MAX)


class _Input(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _fits_bigint(cls, value: Any) -> Any:
        if _beyond_bigint(value):
            raise PydanticCustomError("int_beyond_bigint", "a whole number between {low} and {high}",
                                      {"low": BIGINT_MIN, "high": BIGINT_MAX})
        return value


class ApiModel(_Input):
    """A request body: unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=state_bigint_bounds)


class QueryModel(_Input):
    """Query parameters: strings from the URL, coerced, unknown names refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=state_bigint_bounds)


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(OutModel, Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = None


# Cursors ------------------------------------------------------------------------------------------------
# One codec for every keyset-paginated list. A cursor is base64url of a JSON array the endpoint wrote; what
# comes back is the client's to change, so its shape and every element's type are checked against what the
# endpoint declares before a value reaches SQL, and anything else is a 400 ``invalid_cursor`` on ``cursor``.

CURSOR_MAX_LENGTH = 500
_CURSOR_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")
# The shape is in the schema, but checked by decode_cursor: any cursor that is not one of ours is the same
# 400 invalid_cursor, whether its bytes, its JSON or its values are wrong.
Cursor = Annotated[str, WithJsonSchema({
    "type": "string", "maxLength": CURSOR_MAX_LENGTH, "pattern": _CURSOR_ALPHABET.pattern,
    "description": "`next_cursor` of the previous page, as it was given (400 invalid_cursor otherwise)."})] | None

CursorPart = type[datetime] | type[int] | type[str]
_BIGINT = 2**63


def _bad_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this service handed out", code="invalid_cursor", field="cursor")


def encode_cursor(*values: Any) -> str:
    """The cursor for the page after the row with these keys (datetimes as ISO 8601 with offset)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _cursor_part(value: Any, kind: CursorPart) -> Any:
    if kind is int:
        if type(value) is not int or not -_BIGINT <= value < _BIGINT:
            raise _bad_cursor()
        return value
    if not isinstance(value, str) or len(value) > 200:
        raise _bad_cursor()
    if kind is datetime:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise _bad_cursor() from exc
        if moment.utcoffset() is None or not 1900 <= moment.year <= 2200:
            raise _bad_cursor()
        return moment
    return value


def decode_cursor(cursor: str | None, parts: tuple[CursorPart, ...] = (int,)) -> tuple[Any, ...] | None:
    """The keys a cursor from :func:`encode_cursor` carries, typed as ``parts`` says; ``None`` for no cursor."""
    if not cursor:
        return None
    if len(cursor) > CURSOR_MAX_LENGTH or not _CURSOR_ALPHABET.match(cursor):
        raise _bad_cursor()
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or len(values) != len(parts):
        raise _bad_cursor()
    return tuple(_cursor_part(v, kind) for v, kind in zip(values, parts, strict=True))
