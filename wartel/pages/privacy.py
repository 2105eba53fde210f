"""The "who looked at this person" page for security heads and auditors (access records, issue 21)."""

from __future__ import annotations

from aiohttp import web

from wartel import keys
from wartel.errors import InvalidInput, NotFound
from wartel.pages.framework import PageCtx, add_nav, page
from wartel.privacy.access import AccessRecord, who_accessed
from wartel.privacy.numbers import number_ref
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles

routes = web.RouteTableDef()
AUDIT_ROLES = roles(Act.AUDIT)


def setup() -> None:
    add_nav("nav.access", "/security/access", AUDIT_ROLES)


@routes.get("/security/access", name="page_access")
@page(*AUDIT_ROLES)
async def access_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Who read an inmate's or a number's data, when, what and why, in the logs the viewer may search."""
    number = req.query.get("number", "").strip()
    inmate_raw = req.query.get("inmate_id", "").strip()
    records: list[AccessRecord] | None = None
    subject = ""
    if number:
        e164 = normalise_phone(number, field="number")
        ref = await number_ref(pc.conn, req.app[keys.SECRET_KEY], e164, create=False)
        records = [] if ref is None else await who_accessed(pc.conn, pc.scope, "number", ref)
        subject = e164
    elif inmate_raw:
        if not inmate_raw.isdigit():
            raise InvalidInput("inmate_id must be a number", code="validation_failed", field="inmate_id")
        if len(inmate_raw) > 18:  # beyond bigint: no such inmate
            raise NotFound(f"inmate {inmate_raw} not found", code="inmate_not_found", field="inmate_id")
        await pc.scope.require_inmate(pc.conn, int(inmate_raw))
        records = await who_accessed(pc.conn, pc.scope, "inmate", inmate_raw)
        label = await pc.conn.fetchrow(
            "SELECT full_name, registration_no FROM inmates WHERE id = $1", int(inmate_raw)
        )
        subject = f"{label['full_name']} ({label['registration_no']})"
    return pc.render(
        "security/access.html", number=number, inmate_id=inmate_raw, records=records, subject=subject
    )
