"""Domain errors of call rights, booking and calls. Subclasses of the shared ``audit.errors.DomainError``.

``problem_kind`` picks the HTTP status (conflict 409, unprocessable 422, not_found 404, ...) and ``code`` is
the stable machine-readable reason that clients and tests rely on.
"""

from __future__ import annotations

from audit.errors import DomainError
from audit.errors import NotFound as NotFoundFamily


class ScheduleError(DomainError):
    """Base of call-rights, booking and call errors."""


class NotFound(ScheduleError, NotFoundFamily):
    """Missing, or outside the caller's scope (we do not say which); one of the ``audit.errors.NotFound``
    family."""


class Conflict(ScheduleError):
    """The request is fine but the current state refuses it (409)."""

    problem_kind = "conflict"


class Unprocessable(ScheduleError):
    """Well-formed input that the rules refuse (422)."""

    problem_kind = "unprocessable"
    default_code = "unprocessable"


class Forbidden(ScheduleError):
    problem_kind = "forbidden"
    default_code = "forbidden"


# The refusals a client can act on, each with its stable code.
class SlotTaken(Conflict):
    default_code = "slot_taken"


class InmateBusy(Conflict):
    default_code = "inmate_busy"


class QuotaExhausted(Conflict):
    default_code = "quota_exhausted"


class InmateSanctioned(Conflict):
    default_code = "inmate_sanctioned"


class InmateNotActive(Conflict):
    default_code = "inmate_not_active"


class BoothOutOfService(Conflict):
    default_code = "booth_out_of_service"


class InvalidTransition(Conflict):
    default_code = "invalid_transition"


class CancellationCutoffPassed(Conflict):
    default_code = "cancellation_cutoff_passed"


class ContactNotVerified(Unprocessable):
    default_code = "contact_not_verified"


class ContactBlocked(Unprocessable):
    default_code = "contact_blocked"


class OutsideOpeningHours(Unprocessable):
    default_code = "outside_opening_hours"


class FacilityClosed(Unprocessable):
    default_code = "facility_closed"


class SlotMisaligned(Unprocessable):
    default_code = "slot_misaligned"


class OutsideBookingWindow(Unprocessable):
    default_code = "outside_booking_window"


class BoothKindNotCovered(Unprocessable):
    default_code = "booth_kind_not_covered"


class KioskMismatch(Conflict):
    """A terminal reported something that does not match a live booking; it was recorded for detection."""

    default_code = "kiosk_mismatch"
