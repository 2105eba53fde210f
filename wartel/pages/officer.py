"""Officer pages: the day board per booth, the booking form, inmates, contacts and sanctions.

Every action calls the same domain function as the API, inside a savepoint: a refusal rolls back only
that step and the page is drawn again with the refusal's localized title and detail.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from schedules import booking as bookings
from schedules import calls
from schedules.availability import load_facility
from schedules.board import facility_board
from schedules.rights import inmate_rights
from wartel import keys
from wartel.api.bookings import CancelIn
from wartel.api.calls import EndCallIn
from wartel.api.contacts import ContactIn, VerifyIn
from wartel.api.contacts import ReasonIn as ContactReasonIn
from wartel.api.inmates import InmateIn
from wartel.api.sanctions import SanctionIn
from wartel.errors import InvalidInput
from wartel.http.bounds import parse_date, parse_local_datetime, parse_timestamp
from wartel.pages.framework import PageCtx, add_nav, attempt, page, redirect
from wartel.registry import contacts as contact_registry
from wartel.registry import inmates as inmate_registry
from wartel.scope import Act, roles
from wartel.usecases import directory, personal
from wartel.usecases import sanctions as sanction_usecase
from wartel.usecases.bookable import bookable_day

routes = web.RouteTableDef()
BOOKING_ROLES = roles(Act.BOOK)
READ_ROLES = roles(Act.READ)
REGISTER_ROLES = roles(Act.REGISTER)
# What each inmate-page form needs (the same role sets as the API's endpoints for the same acts).
INMATE_ACTIONS = {"contacts": Act.REGISTER, "verify": Act.REGISTER, "reject": Act.REGISTER,
                  "revoke": Act.REVOKE_CONTACT, "sanctions": Act.SANCTION, "lift": Act.SANCTION}
ACTIONS = ("check-in", "start", "end", "cancel")
END_OUTCOMES = ("completed", "cut_off", "technical_failure", "not_answered")
CANCEL_REASONS = ("inmate", "family", "facility", "technical")
RELATIONS = ("spouse", "parent", "child", "sibling", "relative", "guardian", "legal_counsel", "other")
VERIFY_METHODS = ("ktp", "callback", "in_person", "bar_card")


def setup() -> None:
    add_nav("nav.board", "/officer", BOOKING_ROLES)
    add_nav("nav.book", "/officer/book", BOOKING_ROLES)
    add_nav("nav.inmates", "/officer/inmates", READ_ROLES)


async def _facility_id(pc: PageCtx) -> int:
    """The facility named with ?facility_id= (or the form's), if it is in scope (404 otherwise, as the API
    answers); without one, the user's own facility. Regional staff and admins must name one."""
    raw = pc.request.query.get("facility_id") or (await pc.request.post()).get("facility_id")
    if raw:
        if not str(raw).isdigit():
            raise InvalidInput("facility_id must be a number", code="validation_failed", field="facility_id")
        await pc.scope.require_facility(pc.conn, int(raw))
        return int(raw)
    if pc.user.facility_id is not None:
        return pc.user.facility_id
    raise InvalidInput("choose a facility", code="validation_failed", field="facility_id")


def _local_day(tz: str, raw: str | None) -> date:
    if raw:
        return parse_date(raw, "day")  # within the service's bounds: year 1 at UTC+9 is no day to show
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date()


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start, start + timedelta(days=1)


async def _board_page(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None,
                      kept: dict[str, Any] | None = None) -> web.Response:
    """The day board; after a refused action, ``kept`` reopens that booking's panel with what was typed."""
    fid = await _facility_id(pc)
    facility = await load_facility(pc.conn, fid)
    day = _local_day(facility.time_zone, pc.request.query.get("day"))
    since, until = _day_bounds(day, facility.time_zone)
    board = await facility_board(pc.conn, fid, next_per_booth=6)
    day_bookings = await bookings.list_bookings(pc.conn, facility_ids=[fid], since=since, until=until, limit=500)
    names = await directory.inmate_labels(pc.conn, list({b["inmate_id"] for b in day_bookings}))
    contacts = await directory.contact_names(pc.conn, list({b["contact_id"] for b in day_bookings if b["contact_id"]}))
    live = {c["booking_id"]: c for c in board["calls"]}
    by_booth: dict[int, list[dict[str, Any]]] = {}
    for b in day_bookings:
        by_booth.setdefault(b["booth_id"], []).append({**b, "inmate": names.get(b["inmate_id"]),
                                                       "contact": contacts.get(b["contact_id"]),
                                                       # The check-in rule's own window (schedules.calls).
                                                       "check_in_from": b["starts_at"] - calls.CHECK_IN_EARLY,
                                                       "call": live.get(b["booking_id"])})
    name = await directory.facility_name(pc.conn, fid)
    msg = pc.request.query.get("msg")
    # The board's own address: what the live refresh fetches, and what a refresh after a refused post
    # shows (the page replaces the post's address with it), never the post's address (405).
    query = {"facility_id": fid if pc.user.facility_id is None else None,
             "day": pc.request.query.get("day") or None}
    page_url = "/officer" + ("?" + urlencode({k: v for k, v in query.items() if v is not None})
                             if any(v is not None for v in query.values()) else "")
    return pc.render("officer/board.html", status=status, error=error, facility_id=fid, facility_name=name,
                     page_url=page_url, canonical_url=page_url if pc.request.method == "POST" else None,
                     kept=kept or {},
                     tz=facility.time_zone, day=day, board=board, by_booth=by_booth,
                     message=pc.t(f"page.msg.{msg}") if msg else None, end_outcomes=END_OUTCOMES,
                     cancel_reasons=CANCEL_REASONS, now=datetime.now(UTC),
                     admin_query=f"?facility_id={fid}" if pc.user.facility_id is None else "")


async def _choose_facility(pc: PageCtx) -> web.Response:
    """Regional staff and admins work at no one facility: pick one of theirs first (officers never see this)."""
    rows = await directory.facilities_in_view(pc.conn, pc.scope)
    return pc.render("officer/choose_facility.html", facilities=rows, target=pc.request.path)


@routes.get("/officer", name="page_officer_board")
@page(*BOOKING_ROLES)
async def board(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Today's bookings per booth with their actions; live calls count down to their limit."""
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    return await _board_page(pc)


@routes.post("/officer/bookings/{booking_id:\\d+}/{action}", name="page_booking_action")
@page(*BOOKING_ROLES, write=True)
async def booking_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    action = req.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    booking_id = int(req.match_info["booking_id"])
    form = await req.post()
    scope = pc.scope.facility_ids
    uid = pc.user.user_id

    async def step() -> Any:
        if action == "check-in":
            return await calls.check_in(pc.conn, booking_id, facility_ids=scope, user_id=uid, actor=pc.actor)
        if action == "start":
            return await calls.start_call(pc.conn, booking_id, facility_ids=scope, supervisor_id=uid, actor=pc.actor)
        if action == "end":
            # The API's request models parse the forms: both faces accept and refuse the same values.
            ended = EndCallIn.model_validate({"outcome": form.get("outcome", ""), "reason": _opt(form, "reason")})
            return await calls.end_call(pc.conn, booking_id, facility_ids=scope, outcome=ended.outcome,
                                        reason=ended.reason, user_id=uid, actor=pc.actor)
        cancel = CancelIn.model_validate({"reason": form.get("reason", ""), "note": _opt(form, "note")})
        return await bookings.cancel_booking(pc.conn, booking_id, facility_ids=scope, reason=cancel.reason,
                                             note=cancel.note, user_id=uid, actor=pc.actor)

    _, error = await attempt(pc, step)
    if error is not None:
        kept = {"booking_id": booking_id, "action": action, "form": {k: str(v) for k, v in form.items()}}
        return await _board_page(pc, status=error["status"], error=error, kept=kept)
    suffix = f"facility_id={req.query['facility_id']}&" if "facility_id" in req.query else ""
    raise web.HTTPSeeOther(f"/officer?{suffix}msg={action.replace('-', '_')}")


async def _booking_form(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None,
                        chosen: dict[str, str] | None = None) -> web.Response:
    fid = await _facility_id(pc)
    facility = await load_facility(pc.conn, fid)
    chosen = chosen or {k: v for k, v in pc.request.query.items()}
    q = (chosen.get("q") or "").strip()
    # One more than shown, to say that there are more (narrow the search) rather than cut off silently.
    found = list(await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, q=q, status="active",
                                                      limit=21)) if q else []
    more_found = len(found) > 20
    found = found[:20]
    inmate = rights = None
    contact_rows: list[Any] = []
    slots: list[dict[str, Any]] = []
    bookable: dict[str, Any] = {}
    day = _local_day(facility.time_zone, chosen.get("day"))
    if (chosen.get("inmate_id") or "").isdigit():
        inmate = await inmate_registry.get_inmate(pc.conn, pc.user, int(chosen["inmate_id"]))
        rights = await inmate_rights(pc.conn, inmate["id"])
        contact_rows = await contact_registry.list_contacts(pc.conn, pc.user, inmate["id"])
        bookable = await bookable_day(pc.conn, facility, day, risk_level=inmate["risk_level"])
        slots = bookable["booths"]
    return pc.render("officer/book.html", status=status, error=error, facility_id=fid, tz=facility.time_zone,
                     q=q, found=found, more_found=more_found, inmate=inmate, rights=rights, contacts=contact_rows, slots=slots, day=day,
                     chosen=chosen, admin_field=pc.user.facility_id is None, bookable=bookable)


@routes.get("/officer/book", name="page_book")
@page(*BOOKING_ROLES)
async def book_form(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Find the inmate, see what is left of the quota, pick a verified contact and a free slot."""
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    return await _booking_form(pc)


@routes.post("/officer/book", name="page_book_submit")
@page(*BOOKING_ROLES, write=True)
async def book_submit(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await req.post()).items()}
    fid = await _facility_id(pc)
    booth_raw, _, start_raw = form.get("slot", "").partition("|")
    problems = []
    if not (form.get("inmate_id") or "").isdigit():
        problems.append("inmate_id")
    if not (form.get("contact_id") or "").isdigit():
        problems.append("contact_id")
    try:
        starts_at = parse_timestamp(start_raw, "slot")  # as the page wrote it: an instant with its offset
        booth_id = int(booth_raw)
    except (ValueError, InvalidInput):
        problems.append("slot")
    if problems:
        error = {"title": pc.t("problem.validation_failed"), "detail": pc.t("page.book.missing"),
                 "field": problems[0], "code": "validation_failed", "status": 422}
        return await _booking_form(pc, status=422, error=error, chosen=form)
    request = bookings.BookingRequest(facility_id=fid, booth_id=booth_id, inmate_id=int(form["inmate_id"]),
                                      contact_id=int(form["contact_id"]), starts_at=starts_at,
                                      override_reason=form.get("override_reason") or None)
    booked, error = await attempt(pc, lambda: bookings.book_call(pc.conn, request, user_id=pc.user.user_id,
                                                                 actor=pc.actor))
    if error is not None:
        return await _booking_form(pc, status=error["status"], error=error, chosen=form)
    tz = (await load_facility(pc.conn, fid)).time_zone
    raise redirect("/officer", facility_id=fid if pc.user.facility_id is None else None, msg="booked",
                   day=booked["starts_at"].astimezone(ZoneInfo(tz)).date().isoformat())


@routes.get("/officer/inmates", name="page_inmates")
@page(*READ_ROLES)
async def inmates_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    fid = await _facility_id(pc)
    q = req.query.get("q", "").strip()
    rows = await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, q=q or None, limit=100)
    return pc.render("officer/inmates.html", rows=rows, q=q, facility_id=fid, form={},
                     can_register=pc.scope.may(Act.REGISTER),
                     message=pc.t(f"page.msg.{req.query['msg']}") if req.query.get("msg") else None)


@routes.post("/officer/inmates", name="page_inmate_create")
@page(*REGISTER_ROLES, write=True)
async def inmate_create(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    fid = await _facility_id(pc)
    form = {k: str(v).strip() for k, v in (await req.post()).items()}

    async def step() -> Any:
        # The API's request model parses the form: both faces accept and refuse the same values.
        new = InmateIn.model_validate({
            "registration_no": form.get("registration_no", ""), "full_name": form.get("full_name", ""),
            "block": _opt(form, "block"), "risk_level": _opt(form, "risk_level"),
            "admitted_on": form.get("admitted_on", ""), "facility_id": fid})
        return await inmate_registry.create_inmate(pc.conn, pc.user, new.model_dump(), actor=pc.actor)

    row, error = await attempt(pc, step)
    if error is None:
        raise redirect(f"/officer/inmates/{row['id']}", msg="inmate_created")
    rows = await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, limit=100)
    return pc.render("officer/inmates.html", status=error.get("status", 422), rows=rows, q="", facility_id=fid,
                     form=form, error=error, can_register=True)


async def _inmate_page(pc: PageCtx, inmate_id: int, *, status: int = 200, error: dict[str, Any] | None = None,
                       kept: dict[str, Any] | None = None) -> web.Response:
    """One inmate's page; after a refused form, ``kept`` holds that form's action and what was typed."""
    inmate = await inmate_registry.get_inmate(pc.conn, pc.user, inmate_id)
    facility = await load_facility(pc.conn, inmate["current_facility_id"])
    msg = pc.request.query.get("msg")
    return pc.render(
        "officer/inmate.html", status=status, error=error, inmate=inmate, tz=facility.time_zone,
        canonical_url=f"/officer/inmates/{inmate_id}" if pc.request.method == "POST" else None,
        rights=await inmate_rights(pc.conn, inmate_id),
        # A refused action draws the page again: that redraw changes nothing, so it records no new look.
        contacts=(await personal.inmate_contacts(pc.conn, pc.scope, pc.actor, inmate_id) if error is None
                  else await contact_registry.list_contacts(pc.conn, pc.user, inmate_id)),
        sanctions=await sanction_usecase.list_sanctions(pc.conn, pc.scope, inmate_id),
        can={act.value: pc.scope.may(act) for act in set(INMATE_ACTIONS.values())},
        relations=RELATIONS, methods=VERIFY_METHODS, now=datetime.now(UTC), kept=kept or {},
        shared=await directory.numbers_shared_with_others(pc.conn, inmate_id),
        upcoming=await directory.upcoming_bookings(pc.conn, pc.scope, inmate_id),
        recent=await directory.recent_calls(pc.conn, pc.scope, inmate_id),
        message=pc.t(f"page.msg.{msg}") if msg else None)


@routes.get("/officer/inmates/{inmate_id:\\d+}", name="page_inmate")
@page(*READ_ROLES)
async def inmate_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """One inmate: call rights left, contacts (register, verify, reject, revoke) and sanctions."""
    return await _inmate_page(pc, int(req.match_info["inmate_id"]))


def _opt(form: Any, key: str) -> str | None:
    """A form field left empty is a field not given."""
    value = str(form.get(key, "")).strip()
    return value or None


def _local(raw: str, tz: str, field: str) -> datetime:
    # The form's datetime-local field is the facility's wall clock: an offset is refused, as in the API's
    # local times, and the date is within the service's bounds.
    return parse_local_datetime(raw, field).replace(tzinfo=ZoneInfo(tz))


@routes.post("/officer/inmates/{inmate_id:\\d+}/{action}", name="page_inmate_action")
@page(*READ_ROLES, write=True)
async def inmate_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    inmate_id = int(req.match_info["inmate_id"])
    action = req.match_info["action"]
    if action not in INMATE_ACTIONS:
        raise web.HTTPNotFound()
    pc.scope.require(INMATE_ACTIONS[action])
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    inmate = await inmate_registry.get_inmate(pc.conn, pc.user, inmate_id)
    tz = (await load_facility(pc.conn, inmate["current_facility_id"])).time_zone
    contact_id = int(form["contact_id"]) if form.get("contact_id", "").isdigit() else 0

    async def step() -> Any:
        # The API's request models parse the forms: both faces accept and refuse the same values.
        if action == "contacts":
            new = ContactIn.model_validate({k: form.get(k, "") for k in ("phone", "name", "relation")})
            return await contact_registry.register_contact(
                pc.conn, pc.user, inmate_id, phone=new.phone, name=new.name, relation=new.relation, actor=pc.actor,
                ref_key=pc.request.app[keys.SECRET_KEY])
        if action == "verify":
            method = VerifyIn.model_validate({"method": form.get("method", "")}).method
            return await contact_registry.verify_contact(pc.conn, pc.user, contact_id, method=method, actor=pc.actor)
        if action in ("reject", "revoke"):
            reason = ContactReasonIn.model_validate({"reason": form.get("reason", "")}).reason
            withdraw = contact_registry.reject_contact if action == "reject" else contact_registry.revoke_contact
            return await withdraw(pc.conn, pc.user, contact_id, reason=reason, actor=pc.actor)
        if action == "sanctions":
            b = SanctionIn.model_validate({
                "inmate_id": inmate_id, "kind": form.get("kind", ""), "reason": form.get("reason", ""),
                "starts_at": _local(form.get("starts_at", ""), tz, "starts_at"),
                "ends_at": _local(form.get("ends_at", ""), tz, "ends_at"),
                "calls_allowed": _opt(form, "calls_allowed"), "max_minutes": _opt(form, "max_minutes")})
            return await sanction_usecase.impose_sanction(
                pc.conn, pc.scope, inmate_id=inmate_id, kind=b.kind, starts_at=b.starts_at, ends_at=b.ends_at,
                reason=b.reason, calls_allowed=b.calls_allowed, max_minutes=b.max_minutes, actor=pc.actor)
        if action == "lift":
            sanction_id = int(form["sanction_id"]) if form.get("sanction_id", "").isdigit() else 0
            return await sanction_usecase.lift_sanction(pc.conn, pc.scope, sanction_id, reason=form.get("reason", ""),
                                                        actor=pc.actor)
        raise AssertionError(f"unhandled inmate action {action}")

    _, error = await attempt(pc, step)
    if error is not None:
        return await _inmate_page(pc, inmate_id, status=error["status"], error=error,
                                  kept={"action": action, "form": form})
    raise redirect(f"/officer/inmates/{inmate_id}", msg=f"{action}_done")
