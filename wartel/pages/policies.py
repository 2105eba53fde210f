"""Policy editing for the regional office: its region's call rights and facility overrides, as versions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from schedules import policy as policies
from wartel.api.policies import PolicySettingsModel
from wartel.errors import InvalidInput
from wartel.pages.framework import PageCtx, add_nav, attempt, page, redirect
from wartel.scope import Act, roles
from wartel.usecases import directory
from wartel.usecases import policies as policy_usecase

routes = web.RouteTableDef()
POLICY_ROLES = roles(Act.SET_POLICY)
_NUMBERS = ("calls_allowed", "max_minutes", "min_lead_minutes", "max_days_ahead", "cancel_cutoff_minutes")


def setup() -> None:
    add_nav("nav.policies", "/regional/policies", POLICY_ROLES)


async def _region_id(pc: PageCtx, raw: str | None) -> int:
    if pc.user.region_id is not None and not raw:
        return pc.user.region_id
    if not raw or not raw.isdigit():
        raise InvalidInput("choose a region", code="validation_failed", field="region_id")
    await pc.scope.require_region(pc.conn, int(raw))
    return int(raw)


async def _page(pc: PageCtx, region_id: int, *, status: int = 200, error: dict[str, Any] | None = None,
                form: dict[str, str] | None = None) -> web.Response:
    facilities = await directory.facilities_in_view(pc.conn, pc.scope, region_id=region_id)
    current = await policies.list_policies(pc.conn, region_ids=[region_id], facility_ids=[f["id"] for f in facilities])
    codes = {f["id"]: f["code"] for f in facilities}
    msg = pc.request.query.get("msg")
    # "Change" on a row loads that policy's values into the form and shows its versions: one of the policies
    # listed above (so in the caller's view), never an id from elsewhere.
    edit_raw = pc.request.query.get("edit", "")
    editing = next((p for p in current if edit_raw.isdigit() and p.policy_id == int(edit_raw)), None)
    history: list[Any] = []
    authors: dict[int, str] = {}
    kinds = set(form.get("booth_kinds_list", "phone video").split()) if form else {"phone", "video"}
    if editing is not None and form is None:
        s = editing.settings
        form = {"target": f"f:{editing.facility_id}" if editing.facility_id else "region",
                "allowance": editing.allowance, "risk_level": editing.risk_level or "", "period": s.period,
                **{name: str(getattr(s, name)) for name in _NUMBERS},
                "no_show_consumes": "on" if s.no_show_consumes else ""}
        kinds = set(s.booth_kinds)
    if editing is not None:
        history = list(reversed(await policies.policy_history(pc.conn, editing.policy_id)))
        authors = await directory.user_names(pc.conn, [v.created_by for v in history if v.created_by])
    return pc.render("regional/policies.html", status=status, error=error, region_id=region_id,
                     facilities=facilities, policies=current, codes=codes, form=form or {}, kinds=kinds,
                     editing=editing, history=history, authors=authors,
                     message=pc.t(f"page.msg.{msg}") if msg else None)


@routes.get("/regional/policies", name="page_policies")
@page(*POLICY_ROLES)
async def policies_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """The policies in force for the region and its facilities, and the form to add a version."""
    return await _page(pc, await _region_id(pc, req.query.get("region_id")))


@routes.post("/regional/policies", name="page_policy_set")
@page(*POLICY_ROLES, write=True)
async def policy_set(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    raw = await req.post()
    form = {k: str(v).strip() for k, v in raw.items()}
    form["booth_kinds_list"] = " ".join(str(k) for k in raw.getall("booth_kinds", []))
    region_id = await _region_id(pc, form.get("region_id"))
    target = form.get("target", "region")

    async def step() -> Any:
        # The API's model parses the form, so both faces accept and refuse the same values (a refusal names
        # the field; the page says it in its language).
        parsed = PolicySettingsModel.model_validate({
            **{name: form.get(name, "") for name in _NUMBERS}, "period": form.get("period", ""),
            "no_show_consumes": form.get("no_show_consumes") == "on",
            "booth_kinds": [str(k) for k in raw.getall("booth_kinds", [])]})
        if form.get("allowance") not in ("family", "legal"):
            raise InvalidInput("choose an allowance", code="validation_failed", field="allowance")
        facility_id = int(target[2:]) if target.startswith("f:") and target[2:].isdigit() else None
        settings = policies.PolicySettings(**{**parsed.model_dump(), "booth_kinds": tuple(parsed.booth_kinds)})
        return await policy_usecase.set_policy(
            pc.conn, pc.scope, level="facility" if facility_id else "region",
            region_id=None if facility_id else region_id, facility_id=facility_id,
            risk_level=form.get("risk_level") or None, allowance=form["allowance"],  # type: ignore[arg-type]
            settings=settings, note=form.get("note") or None, actor=pc.actor)

    _, error = await attempt(pc, step, labels="page.policies.")
    if error is not None:
        return await _page(pc, region_id, status=error["status"], error=error, form=form)
    raise redirect("/regional/policies", region_id=region_id if pc.user.region_id is None else None,
                   msg="policy_set")
