"""Security (Kamtib) pages: the ranked flag queue, a flag's evidence and review, links, audit search."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from audit import verification_status
from audit.detection import review
from audit.search import EntryFilter, search_entries
from wartel import keys
from wartel.api.watchlist import EntryIn
from wartel.errors import InvalidInput, NotFound
from wartel.i18n import catalogue
from wartel.pages.evidence import readable_evidence
from wartel.pages.framework import PageCtx, add_nav, attempt, page, redirect, url_quote
from wartel.pages.graph import link_svg
from wartel.registry import inmates as inmate_registry
from wartel.registry.phones import normalise_phone
from wartel.scope import Act, roles
from wartel.usecases import directory, personal
from wartel.usecases import flags as flag_usecase
from wartel.usecases import watchlist as watch_usecase

routes = web.RouteTableDef()
SECURITY_ROLES = roles(Act.REVIEW)
BLOCK_ROLES = roles(Act.BLOCK)
FLAG_ACTIONS = ("acknowledge", "confirm", "dismiss", "reopen")


def setup() -> None:
    add_nav("nav.flags", "/security", SECURITY_ROLES)
    add_nav("nav.all_flags", "/security/flags", SECURITY_ROLES)
    add_nav("nav.watchlist", "/security/watchlist", SECURITY_ROLES)
    add_nav("nav.links", "/security/links", SECURITY_ROLES)
    add_nav("nav.audit", "/security/audit", SECURITY_ROLES)


@routes.get("/security", name="page_security_queue")
@page(*SECURITY_ROLES)
async def queue_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Subjects with flags waiting for review, highest composite score first."""
    facility_ids, region_ids = pc.scope.flag_scope()
    ranked = await review.queue(pc.conn, facility_ids=facility_ids, region_ids=region_ids, days=30, limit=100)
    subjects = await _subject_labels(pc, [(q["subject_type"], str(q["subject_key"])) for q in ranked])
    msg = req.query.get("msg")
    return pc.render("security/queue.html", ranked=ranked, subjects=subjects,
                     message=pc.t(f"page.msg.{msg}") if msg else None)


async def _flag_page(pc: PageCtx, flag_id: int, *, status: int = 200,
                     error: dict[str, Any] | None = None) -> web.Response:
    # A refused review draws the page again: that redraw changes nothing, so it records no new look.
    flag = (await personal.flag_evidence(pc.conn, pc.scope, pc.actor, pc.request.app[keys.SECRET_KEY], flag_id)
            if error is None else await flag_usecase.get_flag(pc.conn, pc.scope, flag_id))
    history = await review.flag_history(pc.conn, flag_id)
    evidence = flag["evidence"] if isinstance(flag["evidence"], dict) else json.loads(flag["evidence"])
    link = None
    if flag["subject_type"] == "number":
        link = f"/security/links?number={url_quote(flag['subject_key'])}"
    elif flag["subject_type"] == "inmate" and str(flag["subject_key"]).isdigit():
        link = f"/security/links?inmate_id={flag['subject_key']}"
    # People and places by name, never by id: the subject, the facilities, who reviewed it.
    key = (flag["subject_type"], str(flag["subject_key"]))
    subject = (await _subject_labels(pc, [key]))[key]
    facilities = await directory.facility_names(pc.conn, list(flag["facility_ids"] or []))
    names = await directory.user_names(pc.conn, [h["actor_id"] for h in history if h["actor_id"]])
    lines = await readable_evidence(pc.conn, evidence, pc.language, pc.viewer_tz)
    return pc.render("security/flag.html", status=status, error=error, flag=flag, history=history, names=names,
                     evidence_lines=lines, subject=subject, facilities=facilities,
                     canonical_url=f"/security/flags/{flag_id}" if pc.request.method == "POST" else None,
                     evidence_json=json.dumps(evidence, indent=2, ensure_ascii=False, default=str),
                     link=link, can_review=pc.scope.may(Act.REVIEW),
                     message=pc.t(f"page.msg.{pc.request.query['msg']}") if pc.request.query.get("msg") else None)


async def _subject_labels(pc: PageCtx, subjects: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """``Andi Saputra (BI-2026/001)`` for an inmate, an officer's or a facility's name; a number as it is."""
    ids = {kind: [int(k) for t, k in subjects if t == kind and k.isdigit()] for kind in ("inmate", "officer", "facility")}
    inmates = await directory.inmate_labels(pc.conn, ids["inmate"])
    officers = await directory.user_names(pc.conn, ids["officer"])
    facilities = await directory.facility_names(pc.conn, ids["facility"])
    labels: dict[tuple[str, str], str] = {}
    for kind, key in subjects:
        number = int(key) if key.isdigit() else None
        if kind == "inmate" and number in inmates:
            labels[kind, key] = f"{inmates[number]['full_name']} ({inmates[number]['registration_no']})"
        elif kind == "officer" and number in officers:
            labels[kind, key] = officers[number]
        elif kind == "facility" and number in facilities:
            labels[kind, key] = facilities[number]
        else:
            labels[kind, key] = key
    return labels


FLAG_STATUSES = ("open", "acknowledged", "confirmed", "dismissed")


@routes.get("/security/flags", name="page_flags")
@page(*SECURITY_ROLES)
async def flags_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Every flag in view, newest first, filtered by status (the reviewed ones too), rule and severity."""
    status = req.query.get("status", "")
    rule = req.query.get("rule", "")
    severity = req.query.get("severity", "")
    rules = sorted(k[len("rule."):] for k in catalogue()["id"] if k.startswith("rule."))
    # Unknown filter values are ignored (an empty filter), never passed on.
    status = status if status in FLAG_STATUSES else ""
    rule = rule if rule in rules else ""
    severity = severity if severity in ("low", "medium", "high") else ""
    rows = await flag_usecase.list_flags(pc.conn, pc.scope, status=status or None, rule_id=rule or None, limit=200)
    if severity:
        rows = [r for r in rows if r["severity"] == severity]
    rows = rows[:100]
    subjects = await _subject_labels(pc, [(r["subject_type"], str(r["subject_key"])) for r in rows])
    return pc.render("security/flags.html", rows=rows, subjects=subjects, statuses=FLAG_STATUSES, rules=rules,
                     q={"status": status, "rule": rule, "severity": severity})


@routes.get("/security/flags/{flag_id:\\d+}", name="page_flag")
@page(*SECURITY_ROLES)
async def flag_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """A flag with everything a reviewer needs: evidence, thresholds, rule version and history."""
    return await _flag_page(pc, int(req.match_info["flag_id"]))


@routes.post("/security/flags/{flag_id:\\d+}/{action}", name="page_flag_action")
@page(*SECURITY_ROLES, write=True)
async def flag_action(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    flag_id = int(req.match_info["flag_id"])
    action = req.match_info["action"]
    if action not in FLAG_ACTIONS:
        raise web.HTTPNotFound()
    form = {k: str(v).strip() for k, v in (await req.post()).items()}
    # The page's "watch" choice puts the number on the flag's region's list, the API's default scope.
    watch = {"mode": form["watch"], "scope": "region"} if action == "confirm" and form.get("watch") in (
        "watched", "blocked") else None

    async def step() -> list[dict[str, Any]]:
        _, cancelled = await flag_usecase.review_flag(pc.conn, pc.scope, flag_id, action,  # type: ignore[arg-type]
                                                      reason=form.get("reason") or None, actor=pc.actor,
                                                      watch=watch)
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
    # People look an inmate up by name or registration number, not by our internal id: one match opens
    # the graph, several are offered to choose from (scoped as every inmate search is).
    who = req.query.get("inmate", "").strip()[:100]
    matches: list[Any] = []
    if who and not inmate_raw:
        matches = list(await inmate_registry.search_inmates(pc.conn, pc.user, q=who, limit=21))
        if len(matches) == 1:
            inmate_raw = str(matches[0]["id"])
            matches = []
    graph = None
    subject = ""
    if number:
        e164 = normalise_phone(number, field="number")
        graph = await personal.number_graph(pc.conn, pc.scope, pc.actor, req.app[keys.SECRET_KEY], e164,
                                            reason=req.query.get("reason"))
        subject = e164
    elif inmate_raw:
        if not inmate_raw.isdigit():
            raise InvalidInput("inmate_id must be a number", code="validation_failed", field="inmate_id")
        if len(inmate_raw) > 18:  # beyond bigint: no such inmate, and PostgreSQL would refuse the parameter
            raise NotFound(f"inmate {inmate_raw} not found", code="inmate_not_found", field="inmate_id")
        # Scoped lookup: an inmate elsewhere and one that does not exist answer alike (inmate_not_found).
        graph = await personal.inmate_graph(pc.conn, pc.scope, pc.actor, req.app[keys.SECRET_KEY], int(inmate_raw))
        subject = next((n.get("label", "") for n in graph["nodes"] if n.get("root")), inmate_raw)
    svg = link_svg(graph, pc.t("page.links.title"), pc.t("page.links.redacted")) if graph else None
    return pc.render("security/links.html", number=number, inmate_id=inmate_raw, graph=graph, svg=svg,
                     subject=subject, who=who, matches=matches[:20], more=len(matches) > 20,
                     searched=bool(who) and not inmate_raw)


@routes.get("/security/audit", name="page_audit")
@page(*roles(Act.AUDIT), heavy=True)
async def audit_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Search the audit logs in scope, and see when each was last checkpointed and verified."""
    q = {k: req.query.get(k, "").strip() for k in ("action", "subject_type", "subject_id", "actor_id", "days")}
    try:
        days = int(q["days"] or 7)
    except ValueError as exc:
        raise InvalidInput("days must be a number", code="validation_failed", field="days") from exc
    log_ids, rows, checkpoints = await directory.audit_logs_in_view(pc.conn, pc.scope)
    # Who did it, as a person types it: an account name (petugas.budi) is looked up; a number is an id.
    actor = q["actor_id"][:40]
    if actor and not actor.isdigit():
        found = await directory.user_id_by_username(pc.conn, actor.lower())
        actor = str(found) if found is not None else "0"  # no such account: nothing matches
    flt = EntryFilter(actor_id=actor or None, subject_type=q["subject_type"] or None,
                      subject_id=q["subject_id"] or None, action=q["action"] or None,
                      since=datetime.now(UTC) - timedelta(days=max(1, min(days, 366))))
    entries = await search_entries(pc.conn, log_ids, flt, limit=100)
    status = await verification_status(pc.conn, [r["log_id"] for r in rows])
    names = {r["log_id"]: r for r in rows}
    # Who did it, by name; which action, from the labelled list (the codes stay the search's values).
    actors = await directory.user_names(pc.conn, sorted({int(e["actor_id"]) for e in entries
                                                         if e["actor_type"] == "user" and str(e["actor_id"]).isdigit()}))
    return pc.render("security/audit.html", q=q, days=days, entries=entries, logs=rows, verified=status,
                     checkpoints=checkpoints, names=names, actors=actors, actions=_labelled("audit_action."),
                     subject_types=_labelled("audit_subject."))


def _labelled(prefix: str) -> list[str]:
    """The codes the catalogue labels under ``prefix`` (audit actions, subject types), in a stable order."""
    return sorted(k[len(prefix):] for k in catalogue()["id"] if k.startswith(prefix))


async def _watchlist_page(pc: PageCtx, *, status: int = 200, error: dict[str, Any] | None = None,
                          form: dict[str, str] | None = None) -> web.Response:
    rows = await watch_usecase.entries_in_view(pc.conn, pc.scope)
    cancelled = await watch_usecase.recent_block_cancellations(pc.conn, pc.scope)
    _, region_id = await pc.scope.watch_scope(pc.conn)
    msg = pc.request.query.get("msg")
    return pc.render("security/watchlist.html", status=status, error=error, rows=rows, form=form or {},
                     own_facility=pc.user.facility_id, region_id=region_id, can_manage=pc.scope.may(Act.BLOCK),
                     cancelled=cancelled, message=pc.t(f"page.msg.{msg}") if msg else None)


@routes.get("/security/watchlist", name="page_watchlist")
@page(*SECURITY_ROLES)
async def watchlist_page(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Blocked and watched numbers and prefixes that apply within the user's scope."""
    return await _watchlist_page(pc)


@routes.post("/security/watchlist", name="page_watchlist_change")
@page(*BLOCK_ROLES, write=True)
async def watchlist_change(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    form = {k: str(v).strip() for k, v in (await req.post()).items()}

    async def step() -> list[dict[str, Any]]:
        if form.get("remove", "").isdigit():
            await watch_usecase.remove_entry(pc.conn, pc.scope, int(form["remove"]), actor=pc.actor, field="remove")
            return []  # removing an entry cancels nothing
        # Facility staff add to their facility's list, regional staff to their region's, admins the national one.
        list_scope, list_scope_id = pc.scope.default_watch_scope()
        # The API's request model parses the form: both faces accept and refuse the same values.
        b = EntryIn.model_validate({"pattern": form.get("pattern", ""), "mode": form.get("mode", ""),
                                    "pattern_kind": form.get("pattern_kind", "number"), "scope": list_scope,
                                    "scope_id": list_scope_id, "reason": form.get("reason", "")})
        _, cancelled = await watch_usecase.block_or_watch(
            pc.conn, pc.scope, list_scope=b.scope, list_scope_id=b.scope_id, pattern_kind=b.pattern_kind,
            pattern=b.pattern, mode=b.mode, reason=b.reason, actor=pc.actor)
        return cancelled

    result, error = await attempt(pc, step)
    if error is not None:
        return await _watchlist_page(pc, status=error["status"], error=error, form=form)
    raise redirect("/security/watchlist", msg="watchlist_changed_bookings_cancelled" if result else "watchlist_changed")
