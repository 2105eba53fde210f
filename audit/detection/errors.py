"""Domain errors of detection and review; same attributes as every domain error (see wartel/errors.py)."""

from __future__ import annotations

from typing import Any, ClassVar


class DetectionError(Exception):
    problem_kind: ClassVar[str] = "conflict"
    default_code: ClassVar[str] = "conflict"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra


class FlagNotFound(DetectionError):
    problem_kind = "not_found"
    default_code = "flag_not_found"


class RuleNotFound(DetectionError):
    problem_kind = "not_found"
    default_code = "rule_not_found"


class WatchlistEntryNotFound(DetectionError):
    problem_kind = "not_found"
    default_code = "watchlist_entry_not_found"


class InvalidTransition(DetectionError):
    """A review action that the flag's current status does not allow (e.g. confirming a dismissed flag)."""

    problem_kind = "conflict"
    default_code = "flag_transition_invalid"


class InvalidParameter(DetectionError):
    problem_kind = "unprocessable"
    default_code = "rule_parameter_invalid"


class NumberBlocked(DetectionError):
    """The number is on a blocked watchlist entry in scope: it can be neither registered nor booked."""

    problem_kind = "unprocessable"
    default_code = "number_blocked"
