"""Domain errors of the service layer. Only the HTTP layer knows status codes.

Every domain error in this codebase (here, ``schedules.errors``, ``audit.errors``) carries the same two
attributes, ``problem_kind`` and ``code``, so the HTTP layer can map them without importing each package's
classes: ``problem_kind`` chooses the status, ``code`` is the stable machine-readable reason.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    problem_kind: ClassVar[str] = "conflict"
    default_code: ClassVar[str] = "conflict"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra


class NotFound(DomainError):
    """The thing does not exist, or is outside the caller's scope (we do not tell which)."""

    problem_kind = "not_found"
    default_code = "not_found"


class Conflict(DomainError):
    problem_kind = "conflict"
    default_code = "conflict"


class Unprocessable(DomainError):
    """Well-formed input that the rules refuse."""

    problem_kind = "unprocessable"
    default_code = "unprocessable"


class InvalidInput(DomainError):
    problem_kind = "invalid"
    default_code = "invalid_input"


class Forbidden(DomainError):
    problem_kind = "forbidden"
    default_code = "forbidden"
