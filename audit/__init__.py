"""Append-only, tamper-evident audit log: append, checkpoints, verification, detection.

Imports nothing from ``wartel`` or ``schedules``; they call :func:`audit.log.append` inside their own
transactions.
"""

from audit.log import Actor, AuditEntry, LogRef, append

__all__ = ["Actor", "AuditEntry", "LogRef", "append"]
