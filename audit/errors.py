"""Domain errors. ``DomainError`` is the base of every domain error in the codebase.

It lives here because ``audit`` sits at the bottom of the import graph (it imports neither ``schedules``
nor ``wartel``), so every package can derive from it. Only the HTTP layer knows status codes:
``problem_kind`` chooses the status, ``code`` is the stable machine-readable reason.
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
    """The one not-found family: the thing does not exist, or lies outside the caller's scope (we never say
    which). Every package's not-found errors derive from it, so ``except NotFound`` catches them all."""

    problem_kind: ClassVar[str] = "not_found"
    default_code: ClassVar[str] = "not_found"


class AuditError(DomainError):
    default_code: ClassVar[str] = "audit_error"


class LogNotFound(AuditError, NotFound):
    default_code = "audit_log_not_found"


class EntryNotFound(AuditError, NotFound):
    default_code = "audit_entry_not_found"


class CheckpointNotFound(AuditError, NotFound):
    default_code = "audit_checkpoint_not_found"


class NoCheckpointYet(AuditError):
    """An entry exists but no checkpoint covers it yet, so there is nothing to prove it against."""

    problem_kind = "conflict"
    default_code = "audit_entry_not_checkpointed"


class HistoryRewritten(AuditError):
    """The log no longer extends its last signed checkpoint: nothing new is signed over a changed past."""

    problem_kind = "conflict"
    default_code = "audit_history_rewritten"


class SigningKeyUnsafe(AuditError):
    problem_kind = "unavailable"
    default_code = "audit_signing_key_unsafe"


class ExportInvalid(AuditError):
    problem_kind = "invalid"
    default_code = "audit_export_invalid"


class KeyAlreadyRetired(AuditError):
    """The signing key in use was retired before: it cannot be rotated out again (the key file is stale)."""

    problem_kind = "conflict"
    default_code = "audit_signing_key_retired"
