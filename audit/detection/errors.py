"""Domain errors of detection and review; subclasses of the shared ``audit.errors.DomainError``."""

from __future__ import annotations

from audit.errors import DomainError, NotFound


class DetectionError(DomainError):
    """Base of detection, review and watchlist errors."""


class FlagNotFound(DetectionError, NotFound):
    default_code = "flag_not_found"


class RuleNotFound(DetectionError, NotFound):
    default_code = "rule_not_found"


class WatchlistEntryNotFound(DetectionError, NotFound):
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
