"""Reads that expose a person's data, each leaving its access record (:mod:`wartel.privacy.access`).

Both faces call these instead of the bare registry or detection reads, so a look is recorded the same way
whether it came through the API or a page. The record is written only after the read succeeded: a refused
or missing subject exposed nothing.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from audit import Actor
from audit.detection import links
from wartel.privacy.access import record_access, record_inmate_access, require_reason
from wartel.privacy.numbers import number_ref
from wartel.registry import contacts as contact_registry
from wartel.scope import Scope
from wartel.usecases import flags as flag_usecase


async def inmate_contacts(
    conn: asyncpg.Connection, scope: Scope, actor: Actor, inmate_id: int, *, status: str | None = None
) -> list[asyncpg.Record]:
    """An inmate's contacts (names and numbers), recorded as ``access.contacts``."""
    rows = await contact_registry.list_contacts(conn, scope.principal, inmate_id, status=status)
    await record_inmate_access(conn, scope, actor, inmate_id, what="contacts", detail={"contacts": len(rows)})
    return rows


async def contact(conn: asyncpg.Connection, scope: Scope, actor: Actor, contact_id: int) -> asyncpg.Record:
    """One contact, recorded as ``access.contact`` about its inmate."""
    row = await contact_registry.get_contact(conn, scope.principal, contact_id)
    await record_access(
        conn,
        scope,
        actor,
        what="contact",
        subject_type="inmate",
        subject_id=row["inmate_id"],
        facility_id=row["current_facility_id"],
        detail={"contact_id": contact_id},
    )
    return row


async def number_graph(
    conn: asyncpg.Connection,
    scope: Scope,
    actor: Actor,
    secret: bytes,
    e164: str,
    *,
    days: int = 180,
    reason: str | None = None,
) -> dict[str, Any]:
    """The link view of a number, recorded as ``access.links`` about the number (by its reference)."""
    purpose = require_reason("links", reason)
    graph = await links.number_links(
        conn, e164, visible_facility_ids=scope.facility_ids, days=days, redaction_key=secret
    )
    ref = await number_ref(conn, secret, e164)
    await record_access(
        conn,
        scope,
        actor,
        what="links",
        subject_type="number",
        subject_id=ref or "",
        reason=purpose,
        detail={"days": days},
    )
    return graph


async def inmate_graph(
    conn: asyncpg.Connection, scope: Scope, actor: Actor, secret: bytes, inmate_id: int, *, days: int = 180
) -> dict[str, Any]:
    """The link view of an inmate in scope (404 ``inmate_not_found`` otherwise), recorded as ``access.links``."""
    await scope.require_inmate(conn, inmate_id)
    graph = await links.inmate_links(
        conn, inmate_id, visible_facility_ids=scope.facility_ids, days=days, redaction_key=secret
    )
    await record_inmate_access(conn, scope, actor, inmate_id, what="links", detail={"days": days})
    return graph


async def flag_evidence(
    conn: asyncpg.Connection, scope: Scope, actor: Actor, secret: bytes, flag_id: int
) -> dict[str, Any]:
    """A flag with its evidence, recorded as ``access.flag_evidence`` about the flag's inmate or number (a flag
    about an officer or a facility is recorded in the viewer's log under the flag's id)."""
    flag = await flag_usecase.get_flag(conn, scope, flag_id)
    key = str(flag["subject_key"])
    detail = {"flag_id": flag_id, "rule_id": flag["rule_id"]}
    if flag["subject_type"] == "inmate" and key.isdigit():
        await record_inmate_access(conn, scope, actor, int(key), what="flag_evidence", detail=detail)
    elif flag["subject_type"] == "number" and key.startswith("+"):
        ref = await number_ref(conn, secret, key)
        await record_access(
            conn,
            scope,
            actor,
            what="flag_evidence",
            subject_type="number",
            subject_id=ref or "",
            detail=detail,
        )
    else:
        await record_access(
            conn,
            scope,
            actor,
            what="flag_evidence",
            subject_type="flag",
            subject_id=flag_id,
            detail={**detail, "flag_subject_type": flag["subject_type"]},
        )
    return flag
