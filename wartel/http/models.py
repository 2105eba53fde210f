"""Base classes for request and response bodies."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from wartel.errors import InvalidInput


class ApiModel(BaseModel):
    """A request body: unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QueryModel(BaseModel):
    """Query parameters: strings from the URL, coerced, unknown names refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(OutModel, Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int = 1) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this service handed out", code="invalid_cursor",
                           field="cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("cursor is not one this service handed out", code="invalid_cursor", field="cursor")
    return values
