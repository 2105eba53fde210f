"""RFC 9457 problem details: every error leaves as ``application/problem+json`` with a stable ``code``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"

STATUS_BY_KIND = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "gone": 410,
    "too_large": 413,
    "unsupported_media_type": 415,
    "unprocessable": 422,
    "too_many_requests": 429,
    "unavailable": 503,
}

# Database constraint name -> (code, status, field). Registered by each area next to its SQL, so that a
# violation that slipped past a friendlier pre-check still leaves as a precise problem, not a 500.
CONSTRAINT_PROBLEMS: dict[str, tuple[str, int, str | None]] = {}


def register_constraint(name: str, code: str, status: int = 409, field: str | None = None) -> None:
    CONSTRAINT_PROBLEMS[name] = (code, status, field)


class Problem(Exception):
    """An error the HTTP layer itself raises (bad body, no auth, rate limit)."""

    def __init__(self, status: int, code: str, detail: str | None = None, *, field: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, code: str, title: str, *, detail: str | None = None,
                     field: str | None = None, instance: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": f"https://wartel.example/problems/{code}", "title": title,
                            "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if field:
        body["field"] = field
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False, default=str),
                        content_type=PROBLEM_CONTENT_TYPE, headers=headers)
