"""Officer pages: the day board per booth, the booking form, inmates, contacts and sanctions.

Every action calls the same domain function as the API, inside a savepoint: a refusal rolls back only
that step and the page is drawn again with the refusal's localized title and detail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from audit.errors import DomainError
from schedules import booking as bookings
from schedules import calls
from schedules import sanctions as sanction_rules
from schedules.availability import free_slots, load_facility
from schedules.board import facility_board
from schedules.quota import inmate_rights
from wartel import keys
from wartel.auth.principal import require_facility, visible_facility_ids
from wartel.errors import InvalidInput
from wartel.http.bounds import parse_date, parse_local_datetime, parse_timestamp
from wartel.http.problems import STATUS_BY_KIND
from wartel.pages.framework import PageCtx, add_nav, error_text, page, redirect
from wartel.registry import contacts as contact_registry
from wartel.registry import inmates as inmate_registry

routes = web.RouteTableDef()
OFFICER_ROLES = ("officer", "admin")
ACTIONS = ("check-in", "start", "end", "cancel")
END_OUTCOMES = ("completed", "cut_off", "technical_failure", "not_answered")
CANCEL_REASONS = ("inmate", "family", "facility", "technical")
RELATIONS = ("spouse", "parent", "child", "sibling", "relative", "guardian", "legal_counsel", "other")
VERIFY_METHODS = ("ktp", "callback", "in_person", "bar_card")


def setup() -> None:
    add_nav("nav.board", "/officer", OFFICER_ROLES)
    add_nav("nav.book", "/officer/book", OFFICER_ROLES)
    add_nav("nav.inmates", "/officer/inmates", OFFICER_ROLES)


async def attempt(pc: PageCtx, step: Callable[[], Awaitable[Any]]) -> tuple[Any, dict[str, Any] | None]:
    """Run ``step`` in a savepoint; a domain refusal comes back as a displayable error, not an exception."""
    try:
        async with pc.conn.transaction():
            return await step(), None
    except DomainError as exc:
        title, detail, field = error_text(pc.language, exc)
        return None, {"title": title, "detail": detail, "field": field, "code": exc.code,
                      "status": STATUS_BY_KIND.get(exc.problem_kind, 409)}


async def _facility_id(pc: PageCtx) -> int:
    """The officer's own facility; an admin names one with ?facility_id=."""
    if pc.user.facility_id is not None:
        return pc.user.facility_id
    raw = pc.request.query.get("facility_id") or (await pc.request.post()).get("facility_id")
    if not raw or not str(raw).isdigit():
        raise InvalidInput("choose a facility", code="validation_failed", field="facility_id")
    await require_facility(pc.conn, pc.user, int(raw))
    return int(raw)


def _local_day(tz: str, raw: str | None) -> date:
    if raw:
        return parse_date(raw, "day")  # within the service's bounds: year 1 at UTC+9 is no day to show
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date()


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start, start + timedelta(days=1)


async def _board_page(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None) -> web.Response:
    fid = await _facility_id(pc)
    facility = await load_facility(pc.conn, fid)
    day = _local_day(facility.time_zone, pc.request.query.get("day"))
    since, until = _day_bounds(day, facility.time_zone)
    board = await facility_board(pc.conn, fid, next_per_booth=6)
    day_bookings = await bookings.list_bookings(pc.conn, facility_ids=[fid], since=since, until=until, limit=500)
    names = {r["id"]: r for r in await pc.conn.fetch(
        "SELECT id, full_name, registration_no FROM inmates WHERE id = ANY($1::bigint[])",
        list({b["inmate_id"] for b in day_bookings}))}
    live = {c["booking_id"]: c for c in board["calls"]}
    by_booth: dict[int, list[dict[str, Any]]] = {}
    for b in day_bookings:
        by_booth.setdefault(b["booth_id"], []).append({**b, "inmate": names.get(b["inmate_id"]),
                                                       "call": live.get(b["booking_id"])})
    name = await pc.conn.fetchval("SELECT name FROM facilities WHERE id = $1", fid)
    msg = pc.request.query.get("msg")
    return pc.render("officer/board.html", status=status, error=error, facility_id=fid, facility_name=name,
                     tz=facility.time_zone, day=day, board=board, by_booth=by_booth,
                     message=pc.t(f"page.msg.{msg}") if msg else None, end_outcomes=END_OUTCOMES,
                     cancel_reasons=CANCEL_REASONS, now=datetime.now(UTC),
                     admin_query=f"?facility_id={fid}" if pc.user.facility_id is None else "")


async def _choose_facility(pc: PageCtx) -> web.Response:
    """An admin works at no facility: pick one first (officers never see this)."""
    rows = await pc.conn.fetch(
        "SELECT f.id, f.code, f.name, r.name AS region FROM facilities f JOIN regions r ON r.id = f.region_id"
        " ORDER BY r.code, f.code")
    return pc.render("officer/choose_facility.html", facilities=rows, target=pc.request.path)


@routes.get("/officer", name="page_officer_board")
@page(*OFFICER_ROLES)
async def board(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Today's bookings per booth with their actions; live calls count down to their limit."""
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    return await _board_page(pc)


@routes.post("/officer/bookings/{booking_id:\\d+}/{action}", name="page_booking_action")
@page(*OFFICER_ROLES, write=True)
async def booking_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    action = req.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    booking_id = int(req.match_info["booking_id"])
    form = await req.post()
    scope = await visible_facility_ids(pc.conn, pc.user)
    uid = pc.user.user_id

    async def step() -> Any:
        if action == "check-in":
            return await calls.check_in(pc.conn, booking_id, facility_ids=scope, user_id=uid, actor=pc.actor)
        if action == "start":
            return await calls.start_call(pc.conn, booking_id, facility_ids=scope, supervisor_id=uid, actor=pc.actor)
        if action == "end":
            outcome = str(form.get("outcome", ""))
            if outcome not in END_OUTCOMES:
                raise InvalidInput("choose how the call ended", code="validation_failed", field="outcome")
            return await calls.end_call(pc.conn, booking_id, facility_ids=scope, outcome=outcome,  # type: ignore[arg-type]
                                        reason=str(form.get("reason", "")) or None, user_id=uid, actor=pc.actor)
        reason = str(form.get("reason", ""))
        if reason not in CANCEL_REASONS:
            raise InvalidInput("choose why the booking is cancelled", code="validation_failed", field="reason")
        return await bookings.cancel_booking(pc.conn, booking_id, facility_ids=scope, reason=reason,
                                             note=str(form.get("note", "")) or None, user_id=uid, actor=pc.actor)

    _, error = await attempt(pc, step)
    if error is not None:
        return await _board_page(pc, status=error["status"], error=error)
    suffix = f"facility_id={req.query['facility_id']}&" if "facility_id" in req.query else ""
    raise web.HTTPSeeOther(f"/officer?{suffix}msg={action.replace('-', '_')}")


async def _booking_form(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None,
                        chosen: dict[str, str] | None = None) -> web.Response:
    fid = await _facility_id(pc)
    facility = await load_facility(pc.conn, fid)
    chosen = chosen or {k: v for k, v in pc.request.query.items()}
    q = (chosen.get("q") or "").strip()
    found = await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, q=q, status="active",
                                                 limit=20) if q else []
    inmate = rights = None
    contact_rows: list[Any] = []
    slots: list[dict[str, Any]] = []
    day = _local_day(facility.time_zone, chosen.get("day"))
    if (chosen.get("inmate_id") or "").isdigit():
        inmate = await inmate_registry.get_inmate(pc.conn, pc.user, int(chosen["inmate_id"]))
        rights = await inmate_rights(pc.conn, inmate["id"])
        contact_rows = await contact_registry.list_contacts(pc.conn, pc.user, inmate["id"])
        slots = await free_slots(pc.conn, facility, day)
    return pc.render("officer/book.html", status=status, error=error, facility_id=fid, tz=facility.time_zone,
                     q=q, found=found, inmate=inmate, rights=rights, contacts=contact_rows, slots=slots, day=day,
                     chosen=chosen, admin_field=pc.user.facility_id is None)


@routes.get("/officer/book", name="page_book")
@page(*OFFICER_ROLES)
async def book_form(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Find the inmate, see what is left of the quota, pick a verified contact and a free slot."""
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    return await _booking_form(pc)


@routes.post("/officer/book", name="page_book_submit")
@page(*OFFICER_ROLES, write=True)
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
@page(*OFFICER_ROLES)
async def inmates_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    if pc.user.facility_id is None and "facility_id" not in req.query:
        return await _choose_facility(pc)
    fid = await _facility_id(pc)
    q = req.query.get("q", "").strip()
    rows = await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, q=q or None, limit=100)
    return pc.render("officer/inmates.html", rows=rows, q=q, facility_id=fid, form={},
                     message=pc.t(f"page.msg.{req.query['msg']}") if req.query.get("msg") else None)


@routes.post("/officer/inmates", name="page_inmate_create")
@page(*OFFICER_ROLES, write=True)
async def inmate_create(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    fid = await _facility_id(pc)
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    error = None
    try:
        admitted = date.fromisoformat(form.get("admitted_on", ""))
    except ValueError:
        admitted = None
        error = {"title": pc.t("problem.validation_failed"), "detail": pc.t("page.inmates.admitted_invalid"),
                 "field": "admitted_on", "status": 422}
    if error is None:
        data = {"registration_no": form.get("registration_no", ""), "full_name": form.get("full_name", ""),
                "block": form.get("block") or None, "risk_level": form.get("risk_level") or None,
                "admitted_on": admitted, "facility_id": fid}
        row, error = await attempt(pc, lambda: inmate_registry.create_inmate(pc.conn, pc.user, data, actor=pc.actor))
        if error is None:
            raise redirect(f"/officer/inmates/{row['id']}", msg="inmate_created")
    rows = await inmate_registry.search_inmates(pc.conn, pc.user, facility_id=fid, limit=100)
    return pc.render("officer/inmates.html", status=error.get("status", 422), rows=rows, q="", facility_id=fid,
                     form=form, error=error)


async def _inmate_page(pc: PageCtx, inmate_id: int, *, status: int = 200,
                       error: dict[str, Any] | None = None) -> web.Response:
    inmate = await inmate_registry.get_inmate(pc.conn, pc.user, inmate_id)
    facility = await load_facility(pc.conn, inmate["current_facility_id"])
    msg = pc.request.query.get("msg")
    return pc.render(
        "officer/inmate.html", status=status, error=error, inmate=inmate, tz=facility.time_zone,
        rights=await inmate_rights(pc.conn, inmate_id),
        contacts=await contact_registry.list_contacts(pc.conn, pc.user, inmate_id),
        sanctions=await sanction_rules.list_sanctions(pc.conn, inmate_id),
        relations=RELATIONS, methods=VERIFY_METHODS, now=datetime.now(UTC),
        message=pc.t(f"page.msg.{msg}") if msg else None)


@routes.get("/officer/inmates/{inmate_id:\\d+}", name="page_inmate")
@page(*OFFICER_ROLES)
async def inmate_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """One inmate: call rights left, contacts (register, verify, reject, revoke) and sanctions."""
    return await _inmate_page(pc, int(req.match_info["inmate_id"]))


def _local(raw: str, tz: str, field: str) -> datetime:
    # The form's datetime-local field is the facility's wall clock: an offset is refused, as in the API's
    # local times, and the date is within the service's bounds.
    return parse_local_datetime(raw, field).replace(tzinfo=ZoneInfo(tz))


@routes.post("/officer/inmates/{inmate_id:\\d+}/{action}", name="page_inmate_action")
@page(*OFFICER_ROLES, write=True)
async def inmate_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    inmate_id = int(req.match_info["inmate_id"])
    action = req.match_info["action"]
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    inmate = await inmate_registry.get_inmate(pc.conn, pc.user, inmate_id)
    tz = (await load_facility(pc.conn, inmate["current_facility_id"])).time_zone
    contact_id = int(form["contact_id"]) if form.get("contact_id", "").isdigit() else 0

    async def step() -> Any:
        if action == "contacts":
            return await contact_registry.register_contact(
                pc.conn, pc.user, inmate_id, phone=form.get("phone", ""), name=form.get("name", ""),
                relation=form.get("relation", ""), actor=pc.actor, ref_key=pc.request.app[keys.SECRET_KEY])
        if action == "verify":
            return await contact_registry.verify_contact(pc.conn, pc.user, contact_id, method=form.get("method", ""),
                                                         actor=pc.actor)
        if action == "reject":
            return await contact_registry.reject_contact(pc.conn, pc.user, contact_id, reason=form.get("reason", ""),
                                                         actor=pc.actor)
        if action == "revoke":
            return await contact_registry.revoke_contact(pc.conn, pc.user, contact_id, reason=form.get("reason", ""),
                                                         actor=pc.actor)
        if action == "sanctions":
            kind = form.get("kind", "")
            if kind not in ("suspend", "reduce"):
                raise InvalidInput("choose suspend or reduce", code="validation_failed", field="kind")
            calls_allowed = int(form["calls_allowed"]) if form.get("calls_allowed", "").isdigit() else None
            max_minutes = int(form["max_minutes"]) if form.get("max_minutes", "").isdigit() else None
            return await sanction_rules.impose_sanction(
                pc.conn, inmate_id=inmate_id, facility_id=inmate["current_facility_id"], kind=kind,  # type: ignore[arg-type]
                starts_at=_local(form.get("starts_at", ""), tz, "starts_at"),
                ends_at=_local(form.get("ends_at", ""), tz, "ends_at"), reason=form.get("reason", ""),
                calls_allowed=calls_allowed, max_minutes=max_minutes, user_id=pc.user.user_id, actor=pc.actor)
        if action == "lift":
            sanction_id = int(form["sanction_id"]) if form.get("sanction_id", "").isdigit() else 0
            return await sanction_rules.lift_sanction(
                pc.conn, sanction_id, facility_ids=await visible_facility_ids(pc.conn, pc.user),
                reason=form.get("reason", ""), user_id=pc.user.user_id, actor=pc.actor)
        raise web.HTTPNotFound()

    _, error = await attempt(pc, step)
    if error is not None:
        return await _inmate_page(pc, inmate_id, status=error["status"], error=error)
    raise redirect(f"/officer/inmates/{inmate_id}", msg=f"{action}_done")
