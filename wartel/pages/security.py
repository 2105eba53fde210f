"""Security (Kamtib) pages: the ranked flag queue, a flag's evidence and review, links, audit search."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from audit import LogRef, verification_status
from audit.detection import links, review
from audit.search import EntryFilter, log_ids_of, search_entries
from schedules.booking import cancel_bookings_to_blocked_number
from wartel import keys
from wartel.auth.principal import Principal, visible_facility_ids
from wartel.errors import InvalidInput, NotFound
from wartel.pages.framework import PageCtx, add_nav, page, redirect
from wartel.pages.graph import link_svg
from wartel.pages.officer import attempt
from wartel.registry.inmates import get_inmate
from wartel.registry.phones import normalise_phone

routes = web.RouteTableDef()
SECURITY_ROLES = ("security", "regional", "admin")
REVIEW_ROLES = ("security", "admin")


def setup() -> None:
    add_nav("nav.flags", "/security", SECURITY_ROLES)
    add_nav("nav.watchlist", "/security/watchlist", SECURITY_ROLES)
    add_nav("nav.links", "/security/links", SECURITY_ROLES)
    add_nav("nav.audit", "/security/audit", SECURITY_ROLES)


def flag_scope(user: Principal) -> tuple[list[int] | None, list[int] | None]:
    """(facility_ids, region_ids) of the flags the user may see, as the flags API scopes them."""
    if user.role == "admin":
        return None, None
    if user.facility_id is not None:
        return [user.facility_id], []
    return [], [user.region_id] if user.region_id is not None else []


@routes.get("/security", name="page_security_queue")
@page(*SECURITY_ROLES)
async def queue_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Subjects with flags waiting for review, highest composite score first."""
    facility_ids, region_ids = flag_scope(pc.user)
    ranked = await review.queue(pc.conn, facility_ids=facility_ids, region_ids=region_ids, days=30, limit=100)
    msg = req.query.get("msg")
    return pc.render("security/queue.html", ranked=ranked, message=pc.t(f"page.msg.{msg}") if msg else None)


async def _flag_page(pc: PageCtx, flag_id: int, *, status: int = 200,
                     error: dict[str, Any] | None = None) -> web.Response:
    facility_ids, region_ids = flag_scope(pc.user)
    flag = await review.get_flag(pc.conn, flag_id, facility_ids=facility_ids, region_ids=region_ids)
    history = await review.flag_history(pc.conn, flag_id)
    names = {r["id"]: r["username"] for r in await pc.conn.fetch(
        "SELECT id, username FROM users WHERE id = ANY($1::bigint[])",
        [h["actor_id"] for h in history if h["actor_id"]])}
    evidence = flag["evidence"] if isinstance(flag["evidence"], dict) else json.loads(flag["evidence"])
    link = None
    if flag["subject_type"] == "number":
        link = f"/security/links?number={flag['subject_key']}"
    elif flag["subject_type"] == "inmate" and str(flag["subject_key"]).isdigit():
        link = f"/security/links?inmate_id={flag['subject_key']}"
    return pc.render("security/flag.html", status=status, error=error, flag=flag, history=history, names=names,
                     evidence=evidence, evidence_json=json.dumps(evidence, indent=2, ensure_ascii=False, default=str),
                     link=link, can_review=pc.user.role in REVIEW_ROLES,
                     message=pc.t(f"page.msg.{pc.request.query['msg']}") if pc.request.query.get("msg") else None)


@routes.get("/security/flags/{flag_id:\\d+}", name="page_flag")
@page(*SECURITY_ROLES)
async def flag_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """A flag with everything a reviewer needs: evidence, thresholds, rule version and history."""
    return await _flag_page(pc, int(req.match_info["flag_id"]))


@routes.post("/security/flags/{flag_id:\\d+}/{action}", name="page_flag_action")
@page(*REVIEW_ROLES, write=True)
async def flag_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    flag_id = int(req.match_info["flag_id"])
    action = req.match_info["action"]
    if action not in ("acknowledge", "confirm", "dismiss", "reopen"):
        raise web.HTTPNotFound()
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    facility_ids, region_ids = flag_scope(pc.user)
    watch = None
    if action == "confirm" and form.get("watch") in ("watched", "blocked"):
        flag = await review.get_flag(pc.conn, flag_id, facility_ids=facility_ids, region_ids=region_ids)
        if flag["region_id"] is not None:
            watch = {"mode": form["watch"], "scope": "region", "scope_id": flag["region_id"]}

    async def step() -> Any:
        row = await review.transition(pc.conn, flag_id, action, user_id=pc.user.user_id,  # type: ignore[arg-type]
                                      actor=pc.actor, facility_ids=facility_ids, region_ids=region_ids,
                                      reason=form.get("reason") or None, watch=watch)
        cancelled = []
        if watch is not None and row.get("watchlist_entry_id") is not None:
            cancelled = await cancel_bookings_to_blocked_number(pc.conn, row["watchlist_entry_id"], actor=pc.actor,
                                                                user_id=pc.user.user_id)
        return cancelled

    cancelled, error = await attempt(pc, step)
    if error is not None:
        return await _flag_page(pc, flag_id, status=error["status"], error=error)
    raise redirect(f"/security/flags/{flag_id}", msg=f"flag_{action}_bookings_cancelled" if cancelled else f"flag_{action}")


@routes.get("/security/links", name="page_links")
@page(*SECURITY_ROLES, heavy=True)
async def links_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Who is linked to a number or an inmate through calls and registrations, drawn as a graph."""
    number = req.query.get("number", "").strip()
    inmate_raw = req.query.get("inmate_id", "").strip()
    visible = await visible_facility_ids(pc.conn, pc.user)
    graph = None
    subject = ""
    if number:
        e164 = normalise_phone(number, field="number")
        graph = await links.number_links(pc.conn, e164, visible_facility_ids=visible,
                                         redaction_key=req.app[keys.SECRET_KEY])
        subject = e164
    elif inmate_raw:
        if not inmate_raw.isdigit():
            raise InvalidInput("inmate_id must be a number", code="validation_failed", field="inmate_id")
        if len(inmate_raw) > 18:  # beyond bigint: no such inmate, and PostgreSQL would refuse the parameter
            raise NotFound(f"inmate {inmate_raw} not found", code="inmate_not_found", field="inmate_id")
        # Scoped lookup: an inmate elsewhere and one that does not exist answer alike (inmate_not_found).
        await get_inmate(pc.conn, pc.user, int(inmate_raw))
        graph = await links.inmate_links(pc.conn, int(inmate_raw), visible_facility_ids=visible,
                                         redaction_key=req.app[keys.SECRET_KEY])
        subject = next((n.get("label", "") for n in graph["nodes"] if n.get("root")), inmate_raw)
    svg = link_svg(graph, pc.t("page.links.title"), pc.t("page.links.redacted")) if graph else None
    return pc.render("security/links.html", number=number, inmate_id=inmate_raw, graph=graph, svg=svg,
                     subject=subject)


async def _visible_logs(pc: PageCtx) -> list[LogRef] | None:
    facilities = await visible_facility_ids(pc.conn, pc.user)
    if facilities is None:
        return None
    logs = [LogRef.facility(f) for f in facilities]
    if pc.user.facility_id is None and pc.user.region_id is not None:
        logs.append(LogRef.region(pc.user.region_id))
    return logs


@routes.get("/security/audit", name="page_audit")
@page(*SECURITY_ROLES, heavy=True)
async def audit_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Search the audit logs in scope, and see when each was last checkpointed and verified."""
    q = {k: req.query.get(k, "").strip() for k in ("action", "subject_type", "subject_id", "actor_id", "days")}
    try:
        days = int(q["days"] or 7)
    except ValueError as exc:
        raise InvalidInput("days must be a number", code="validation_failed", field="days") from exc
    logs = await _visible_logs(pc)
    log_ids = None if logs is None else await log_ids_of(pc.conn, logs)
    flt = EntryFilter(actor_id=q["actor_id"] or None, subject_type=q["subject_type"] or None,
                      subject_id=q["subject_id"] or None, action=q["action"] or None,
                      since=datetime.now(UTC) - timedelta(days=max(1, min(days, 366))))
    entries = await search_entries(pc.conn, log_ids, flt, limit=100)
    rows = await pc.conn.fetch(
        "SELECT l.log_id, l.scope, l.scope_id, l.size, f.code AS facility_code, r.code AS region_code"
        " FROM audit.logs l LEFT JOIN facilities f ON l.scope = 'facility' AND f.id = l.scope_id"
        " LEFT JOIN regions r ON l.scope = 'region' AND r.id = l.scope_id"
        " WHERE $1::bigint[] IS NULL OR l.log_id = ANY($1::bigint[]) ORDER BY l.scope, l.scope_id", log_ids)
    status = await verification_status(pc.conn, [r["log_id"] for r in rows])
    checkpoints = {r["log_id"]: r for r in await pc.conn.fetch(
        "SELECT DISTINCT ON (log_id) log_id, size, signed_at FROM audit.checkpoints"
        " WHERE log_id = ANY($1::bigint[]) ORDER BY log_id, size DESC", [r["log_id"] for r in rows])}
    names = {r["log_id"]: r for r in rows}
    return pc.render("security/audit.html", q=q, days=days, entries=entries, logs=rows, verified=status,
                     checkpoints=checkpoints, names=names)


async def _watch_scope(pc: PageCtx) -> tuple[list[int] | None, int | None]:
    """(facility_ids, region_id) whose entries the user sees and manages, as the watchlist API scopes them."""
    if pc.user.role == "admin":
        return None, None
    if pc.user.facility_id is not None:
        region = await pc.conn.fetchval("SELECT region_id FROM facilities WHERE id = $1", pc.user.facility_id)
        return [pc.user.facility_id], region
    rows = await pc.conn.fetch("SELECT id FROM facilities WHERE region_id = $1", pc.user.region_id)
    return [r["id"] for r in rows], pc.user.region_id


async def _watchlist_page(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None,
                          form: dict[str, str] | None = None) -> web.Response:
    facility_ids, region_id = await _watch_scope(pc)
    rows = await pc.conn.fetch(
        """SELECT w.*, f.code AS facility_code, r.code AS region_code FROM watchlist w
             LEFT JOIN facilities f ON w.scope = 'facility' AND f.id = w.scope_id
             LEFT JOIN regions r ON w.scope = 'region' AND r.id = w.scope_id
            WHERE w.removed_at IS NULL
              AND ($1::bigint[] IS NULL OR w.scope = 'national' OR (w.scope = 'region' AND w.scope_id = $2)
                   OR (w.scope = 'facility' AND w.scope_id = ANY($1::bigint[])))
            ORDER BY w.created_at DESC, w.id DESC LIMIT 300""", facility_ids, region_id)
    # Bookings a block cancelled lately (this page's blocks and flags confirmed with a block alike): the
    # officers who must tell the inmates see them here, not only as cancelled rows on their board. The cause
    # is written as a literal so that the partial index of sql/0026 serves every plan of this statement (a
    # parameter could not prove the index's condition).
    cancelled = await pc.conn.fetch(
        """SELECT b.booking_id, lower(b.slot) AS starts_at, b.cancelled_at, f.code AS facility_code,
                  f.time_zone, i.registration_no, bo.name AS booth_name
             FROM bookings b JOIN facilities f ON f.id = b.facility_id JOIN inmates i ON i.id = b.inmate_id
             JOIN booths bo ON bo.facility_id = b.facility_id AND bo.booth_id = b.booth_id
            WHERE b.status = 'cancelled' AND b.cancel_cause = 'number_blocked'
              AND b.cancelled_at > now() - interval '7 days'
              AND ($1::bigint[] IS NULL OR b.facility_id = ANY($1::bigint[]))
            ORDER BY b.cancelled_at DESC, b.booking_id DESC LIMIT 200""", facility_ids)
    msg = pc.request.query.get("msg")
    return pc.render("security/watchlist.html", status=status, error=error, rows=rows, form=form or {},
                     own_facility=pc.user.facility_id, region_id=region_id, can_manage=pc.user.role in REVIEW_ROLES,
                     cancelled=cancelled, message=pc.t(f"page.msg.{msg}") if msg else None)


@routes.get("/security/watchlist", name="page_watchlist")
@page(*SECURITY_ROLES)
async def watchlist_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Blocked and watched numbers and prefixes that apply within the user's scope."""
    return await _watchlist_page(pc)


@routes.post("/security/watchlist", name="page_watchlist_change")
@page(*REVIEW_ROLES, write=True)
async def watchlist_change(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    from audit.detection import watchlist

    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    facility_ids, region_id = await _watch_scope(pc)

    async def step() -> Any:
        if form.get("remove", "").isdigit():
            entry = await pc.conn.fetchrow("SELECT scope, scope_id FROM watchlist WHERE id = $1 AND removed_at IS NULL",
                                           int(form["remove"]))
            mine = entry is not None and (facility_ids is None or (entry["scope"] == "facility" and entry["scope_id"]
                                          in facility_ids) or (entry["scope"] == "region" and pc.user.facility_id is None
                                                               and entry["scope_id"] == region_id))
            if not mine:
                raise InvalidInput("watchlist entry not found", code="watchlist_entry_not_found", field="remove")
            await watchlist.remove_entry(pc.conn, int(form["remove"]), user_id=pc.user.user_id, actor=pc.actor)
            return []  # removing an entry cancels nothing
        kind = form.get("pattern_kind", "number")
        pattern = form.get("pattern", "")
        if kind == "number":
            pattern = normalise_phone(pattern, field="pattern")
        elif not (pattern.startswith("+") and pattern[1:].isdigit() and 4 <= len(pattern) <= 15):
            raise InvalidInput("a prefix is + followed by 3 to 14 digits", code="invalid_prefix", field="pattern")
        # Facility staff manage their facility's list; regional staff their region's.
        scope, scope_id = ("facility", pc.user.facility_id) if pc.user.facility_id else ("region", region_id)
        if scope_id is None:
            raise InvalidInput("choose a region", code="validation_failed", field="scope")
        entry_id = await watchlist.add_entry(pc.conn, scope=scope, scope_id=scope_id, pattern_kind=kind,  # type: ignore[arg-type]
                                             pattern=pattern, mode=form.get("mode", ""), reason=form.get("reason", ""),
                                             user_id=pc.user.user_id, actor=pc.actor)
        # A block cancels (and credits) the upcoming bookings to the number, as the API does.
        return await cancel_bookings_to_blocked_number(pc.conn, entry_id, actor=pc.actor, user_id=pc.user.user_id)

    result, error = await attempt(pc, step)
    if error is not None:
        return await _watchlist_page(pc, status=error["status"], error=error, form=form)
    raise redirect("/security/watchlist", msg="watchlist_changed_bookings_cancelled" if result else "watchlist_changed")
