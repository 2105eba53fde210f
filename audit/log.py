"""The one interface the service calls: :func:`append`, inside the transaction making the change."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (with role), a kiosk device, or the system (a scheduled job)."""

    type: Literal["user", "device", "system"]
    id: str | None = None
    role: str | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(type="system", id=job)


@dataclass(frozen=True)
class LogRef:
    """Which log an entry goes to: a facility's, a region's, or the national one."""

    scope: Literal["facility", "region", "national"]
    scope_id: int = 0

    @classmethod
    def facility(cls, facility_id: int) -> LogRef:
        return cls("facility", facility_id)

    @classmethod
    def region(cls, region_id: int) -> LogRef:
        return cls("region", region_id)

    @classmethod
    def national(cls) -> LogRef:
        return cls("national", 0)

    @classmethod
    def of_scope(cls, scope: str, scope_id: int | None) -> LogRef:
        """The log a record scoped to a facility, a region or the nation goes to (policies, watchlist entries)."""
        if scope == "facility" and scope_id is not None:
            return cls.facility(scope_id)
        if scope == "region" and scope_id is not None:
            return cls.region(scope_id)
        return cls.national()


@dataclass(frozen=True)
class AuditEntry:
    log_id: int
    seq: int
    leaf_hash: bytes


def canonical_json(value: Any) -> str:
    """JSON of a payload as sent to the database: sorted keys, ISO times. The database stores it as jsonb and
    builds the hashed canonical text from the columns (``audit.canonical_entry``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def leaf_hash(canonical: str) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + canonical.encode()).digest()


# One round trip: the SECURITY DEFINER function takes the log's row lock (gapless sequence), hashes the
# canonical text and inserts the entry, whose canonical column PostgreSQL generates from the row (sql/0010,
# sql/0013). The service role can append no other way.
_APPEND = "SELECT log_id, seq, leaf_hash FROM audit.append_entry($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"


async def append(
    conn: asyncpg.Connection,
    log: LogRef,
    *,
    action: str,
    subject_type: str,
    subject_id: str | int,
    payload: dict[str, Any] | None = None,
    actor: Actor,
) -> AuditEntry:
    """Append one entry to ``log`` in the caller's transaction.

    The caller must be inside a transaction: the entry commits or rolls back with the change it records.
    Payloads carry identifiers, never personal data in clear (hash or reference phone numbers and names).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.append must run inside the transaction that makes the change")
    row = await conn.fetchrow(
        _APPEND, log.scope, log.scope_id, actor.type, actor.id, actor.role, action, subject_type,
        str(subject_id), canonical_json(payload or {}), actor.request_id,
    )
    return AuditEntry(log_id=row[0], seq=row[1], leaf_hash=row[2])


TAMPER_ACTION = "audit.tamper_blocked"
_AUDIT_TABLES = ("entries", "logs", "checkpoints", "signing_keys", "verifications")


def is_refused_audit_change(exc: BaseException) -> bool:
    """Was this database error the refusal of a change to audit data (trigger or missing privilege)?"""
    if not isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return False
    if getattr(exc, "constraint_name", None) == "audit_append_only":
        return True
    message = str(exc)
    return any(f"for table {t}" in message for t in _AUDIT_TABLES) or "for schema audit" in message \
        or "for function append_entry" in message


async def record_blocked_attempt(
    conn: asyncpg.Connection,
    log: LogRef,
    *,
    actor: Actor,
    error: BaseException,
    context: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record a refused attempt to change audit data, in a transaction of its own.

    Call it on a connection that is not inside the failed transaction (that one rolled back, and the record
    must survive it). The entry is high severity: nobody's legitimate work updates or deletes audit data.
    """
    payload: dict[str, Any] = {
        "severity": "high",
        "sqlstate": getattr(error, "sqlstate", None),
        "constraint": getattr(error, "constraint_name", None),
        "refusal": str(error)[:200],
        **(context or {}),
    }
    async with conn.transaction():
        return await append(conn, log, action=TAMPER_ACTION, subject_type="audit_log",
                            subject_id=f"{log.scope}:{log.scope_id}", payload=payload, actor=actor)
