"""Domain errors of the service layer (registry, users). Only the HTTP layer knows status codes.

All derive from ``audit.errors.DomainError`` (as do ``schedules.errors`` and the audit and detection
errors): ``problem_kind`` chooses the status, ``code`` is the stable machine-readable reason.
"""

from __future__ import annotations

from audit.errors import DomainError
from audit.errors import NotFound as NotFoundFamily

__all__ = ["Conflict", "DomainError", "Forbidden", "InvalidInput", "NotFound", "Unprocessable"]


class NotFound(NotFoundFamily):
    """The thing does not exist, or is outside the caller's scope (we do not tell which); one of the
    ``audit.errors.NotFound`` family, as the schedules and audit not-found errors are."""


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
