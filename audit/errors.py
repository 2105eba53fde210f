"""Domain errors of the audit package; same attributes as every domain error (see wartel/errors.py)."""

from __future__ import annotations

from typing import Any, ClassVar


class AuditError(Exception):
    problem_kind: ClassVar[str] = "conflict"
    default_code: ClassVar[str] = "audit_error"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra


class LogNotFound(AuditError):
    problem_kind = "not_found"
    default_code = "audit_log_not_found"


class EntryNotFound(AuditError):
    problem_kind = "not_found"
    default_code = "audit_entry_not_found"


class CheckpointNotFound(AuditError):
    problem_kind = "not_found"
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
