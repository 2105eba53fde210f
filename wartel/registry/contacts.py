"""Contacts an inmate may call: registered pending, verified by an officer (who, how, when), rejected or
revoked with a reason. The per-inmate cap on family contacts is the database trigger ``contact_family_cap``.
"""

from __future__ import annotations

import asyncpg

from audit import Actor, LogRef, append
from audit.detection.watchlist import ensure_not_blocked
from wartel.auth.principal import Principal
from wartel.errors import Conflict, NotFound, Unprocessable
from wartel.privacy.numbers import number_ref
from wartel.registry.hooks import FacilityChange, notify
from wartel.registry.inmates import get_inmate
from wartel.registry.phones import normalise_phone
from wartel.scope import visible_facility_ids

VERIFICATION_METHODS = ("ktp", "callback", "in_person", "bar_card")
_CONTACT = """
SELECT c.*, i.current_facility_id FROM contacts c JOIN inmates i ON i.id = c.inmate_id
 WHERE c.id = $1 AND ($2::bigint[] IS NULL OR i.current_facility_id = ANY($2))
"""
_CONTACT_FOR_UPDATE = _CONTACT + " FOR UPDATE OF c"


async def list_contacts(conn: asyncpg.Connection, principal: Principal, inmate_id: int, *,
                        status: str | None = None) -> list[asyncpg.Record]:
    await get_inmate(conn, principal, inmate_id)
    return await conn.fetch(
        "SELECT c.* FROM contacts c WHERE c.inmate_id = $1 AND ($2::text IS NULL OR c.status = $2)"
        " ORDER BY c.id", inmate_id, status)


async def get_contact(conn: asyncpg.Connection, principal: Principal, contact_id: int, *,
                      for_update: bool = False) -> asyncpg.Record:
    """The contact with its inmate's current facility, if that facility is in scope."""
    visible = await visible_facility_ids(conn, principal)
    row = await conn.fetchrow(_CONTACT_FOR_UPDATE if for_update else _CONTACT, contact_id, visible)
    if row is None:
        raise NotFound(f"contact {contact_id} not found", code="contact_not_found", field="contact_id")
    return row


async def register_contact(conn: asyncpg.Connection, principal: Principal, inmate_id: int, *, phone: str,
                           name: str, relation: str, actor: Actor, ref_key: bytes | None = None) -> asyncpg.Record:
    """Register a number for an inmate, pending verification. ``phone`` may be in any common local form.

    With ``ref_key`` (the service secret) the audit record carries the number's shreddable reference (never
    the number itself).
    """
    e164 = normalise_phone(phone, field="phone")
    async with conn.transaction():
        inmate = await get_inmate(conn, principal, inmate_id)
        if inmate["status"] != "active":
            raise Conflict(f"contacts can only be registered for an active inmate (this one is {inmate['status']})",
                           code="inmate_not_active", field="inmate_id")
        # A number blocked on the watchlist (facility, region or national) is never registered.
        await ensure_not_blocked(conn, e164, inmate["current_facility_id"], field="phone")
        cap = await conn.fetchval("SELECT family_contact_cap FROM facilities WHERE id = $1",
                                  inmate["current_facility_id"])
        try:
            row = await conn.fetchrow(
                "INSERT INTO contacts AS c (inmate_id, phone_e164, name, relation, is_legal_counsel, created_by)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING c.*",
                inmate_id, e164, name, relation, relation == "legal_counsel", principal.user_id)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("this number is already registered for the inmate", code="contact_already_registered",
                           field="phone") from exc
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name == "contact_family_cap":
                # The transaction is aborted now: no more queries, report the cap read before the insert.
                raise Conflict(f"the inmate already has {cap} family contacts, the facility's limit; revoke one "
                               "first (legal counsel does not count)", code="family_contact_cap_reached",
                               field="relation", cap=cap) from exc
            raise
        payload: dict[str, object] = {"inmate_id": inmate_id, "relation": relation,
                                      "is_legal_counsel": relation == "legal_counsel"}
        if ref_key:
            # The number's own key (wartel.privacy.numbers): erasing the number shreds it, and this reference
            # can then no longer be matched from the number.
            payload["phone_ref"] = await number_ref(conn, ref_key, e164)
        await append(conn, LogRef.facility(inmate["current_facility_id"]), action="contact.registered",
                     subject_type="contact", subject_id=row["id"], payload=payload, actor=actor)
    return row


async def _decide(conn: asyncpg.Connection, principal: Principal, contact_id: int, *, to: str,
                  allowed_from: tuple[str, ...], method: str | None, reason: str | None,
                  actor: Actor) -> asyncpg.Record:
    async with conn.transaction():
        contact = await get_contact(conn, principal, contact_id, for_update=True)
        if contact["status"] not in allowed_from:
            raise Conflict(f"a {contact['status']} contact cannot be {to}",
                           code="contact_not_pending" if allowed_from == ("pending",) else "contact_not_active",
                           field="contact_id", contact_status=contact["status"])
        if method == "bar_card" and not contact["is_legal_counsel"]:
            raise Unprocessable("a bar card verifies legal counsel only", code="method_not_for_family",
                                field="method")
        row = await conn.fetchrow(
            "UPDATE contacts AS c SET status = $2,"
            " verification_method = CASE WHEN $2 = 'verified' THEN $3 ELSE verification_method END,"
            " verified_by = CASE WHEN $2 = 'verified' THEN $4 ELSE verified_by END,"
            " verified_at = CASE WHEN $2 = 'verified' THEN now() ELSE verified_at END,"
            " status_reason = $5, updated_at = now()"
            " WHERE id = $1 RETURNING c.*",
            contact_id, to, method, principal.user_id, reason)
        payload: dict[str, object] = {"inmate_id": contact["inmate_id"], "from": contact["status"]}
        if method:
            payload["method"] = method
        await append(conn, LogRef.facility(contact["current_facility_id"]), action=f"contact.{to}",
                     subject_type="contact", subject_id=contact_id, payload=payload, actor=actor)
        if to == "revoked":
            await notify(conn, FacilityChange("contact_withdrawn", contact["current_facility_id"],
                                              inmate_id=contact["inmate_id"], contact_id=contact_id), actor)
    return row


async def verify_contact(conn: asyncpg.Connection, principal: Principal, contact_id: int, *, method: str,
                         actor: Actor) -> asyncpg.Record:
    """Pending → verified, recording who verified it (the principal), how and when (now)."""
    return await _decide(conn, principal, contact_id, to="verified", allowed_from=("pending",), method=method,
                         reason=None, actor=actor)


async def reject_contact(conn: asyncpg.Connection, principal: Principal, contact_id: int, *, reason: str,
                         actor: Actor) -> asyncpg.Record:
    return await _decide(conn, principal, contact_id, to="rejected", allowed_from=("pending",), method=None,
                         reason=reason, actor=actor)


async def revoke_contact(conn: asyncpg.Connection, principal: Principal, contact_id: int, *, reason: str,
                         actor: Actor) -> asyncpg.Record:
    """Withdraw a pending or verified number; the booking area cancels its bookings through the hooks."""
    return await _decide(conn, principal, contact_id, to="revoked", allowed_from=("pending", "verified"),
                         method=None, reason=reason, actor=actor)
