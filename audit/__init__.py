"""Append-only, tamper-evident audit log: append, checkpoints, verification, detection.

Imports nothing from ``wartel`` or ``schedules``; they call :func:`audit.log.append` inside their own
transactions.
"""

from audit.log import Actor, AuditEntry, LogRef, append, is_refused_audit_change, record_blocked_attempt
from audit.verify import VerificationStatus, verification_status

__all__ = ["Actor", "AuditEntry", "LogRef", "VerificationStatus", "append", "is_refused_audit_change",
           "record_blocked_attempt", "verification_status"]
