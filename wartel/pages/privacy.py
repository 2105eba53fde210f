"""Personal data pages (issue 21): who looked at a person (security heads, auditors), and the
data-protection officer's retention settings, erasure form and erasure report."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wartel import keys
from wartel.api.privacy import ErasureIn, RetentionIn
from wartel.errors import InvalidInput, NotFound
from wartel.pages.framework import PageCtx, add_nav, attempt, page, redirect
from wartel.privacy import erasure, retention
from wartel.privacy.access import AccessRecord, unusual_readers, who_accessed
from wartel.privacy.numbers import number_ref
from wartel.registry import inmates as inmate_registry
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles

routes = web.RouteTableDef()
AUDIT_ROLES = roles(Act.AUDIT)


def setup() -> None:
    add_nav("nav.access", "/security/access", AUDIT_ROLES)
    add_nav("nav.privacy", "/regional/privacy", roles(Act.PROTECT_DATA))


@routes.get("/security/access", name="page_access")
@page(*AUDIT_ROLES, heavy=True)
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
        # The registry's scoped lookup: a foreign inmate and a missing one answer alike.
        inmate = await inmate_registry.get_inmate(pc.conn, pc.user, int(inmate_raw))
        records = await who_accessed(pc.conn, pc.scope, "inmate", inmate_raw)
        subject = f"{inmate['full_name']} ({inmate['registration_no']})"
    # Without a person chosen, the page shows who reads far more people than their peers (7 days).
    unusual = await unusual_readers(pc.conn, pc.scope) if records is None else []
    return pc.render(
        "security/access.html",
        number=number,
        inmate_id=inmate_raw,
        records=records,
        subject=subject,
        unusual=unusual,
    )


PROTECT_ROLES = roles(Act.PROTECT_DATA)


async def _region_id(pc: PageCtx, raw: str | None) -> int:
    if pc.user.region_id is not None and not raw:
        return pc.user.region_id
    if not raw or not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("choose a region", code="validation_failed", field="region_id")
    await pc.scope.require_region(pc.conn, int(raw))
    return int(raw)


async def _dpo_page(
    pc: PageCtx,
    region_id: int,
    *,
    status: int = 200,
    error: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
) -> web.Response:
    msg = pc.request.query.get("msg")
    return pc.render(
        "regional/privacy.html",
        status=status,
        error=error,
        region_id=region_id,
        settings=await retention.settings_of(pc.conn, region_id),
        erasures=await retention.erasure_report(pc.conn, region_id, limit=100),
        form=form or {},
        message=pc.t(f"page.msg.{msg}") if msg else None,
    )


@routes.get("/regional/privacy", name="page_privacy")
@page(*PROTECT_ROLES)
async def privacy_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """For the data-protection officer: the region's retention and the report of what was erased."""
    return await _dpo_page(pc, await _region_id(pc, req.query.get("region_id")))


@routes.post("/regional/privacy/{action}", name="page_privacy_action")
@page(*PROTECT_ROLES, write=True)
async def privacy_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    action = req.match_info["action"]
    if action not in ("retention", "erase"):
        raise web.HTTPNotFound()
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    region_id = await _region_id(pc, form.get("region_id"))

    async def step() -> Any:
        # The API's models parse the form: both faces accept and refuse the same values.
        if action == "retention":
            parsed = RetentionIn.model_validate({k: form.get(k, "") for k in RetentionIn.model_fields})
            return await retention.set_retention(
                pc.conn, region_id, user_id=pc.user.user_id, actor=pc.actor, **parsed.model_dump()
            )
        body = ErasureIn.model_validate({k: form.get(k, "") for k in ErasureIn.model_fields})
        e164 = normalise_phone(body.number, field="number")
        return await erasure.erase_number(
            pc.conn, pc.scope, req.app[keys.SECRET_KEY], e164, reason=body.reason, actor=pc.actor
        )

    _, error = await attempt(pc, step, labels="page.privacy.")
    if error is not None:
        return await _dpo_page(pc, region_id, status=error["status"], error=error, form=form)
    raise redirect(
        "/regional/privacy",
        region_id=region_id if pc.user.region_id is None else None,
        msg=f"privacy_{action}",
    )
