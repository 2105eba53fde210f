"""Detection flags for security staff: the rule catalogue and its regional parameters, the ranked review
queue, flag detail with evidence and history, review actions, and each rule's measured precision.

Officers have no access: officer-integrity rules are about them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from audit.detection import review
from audit.detection.catalogue import BY_ID, RULES
from wartel import keys
from wartel.api.bookings import AffectedBooking
from wartel.errors import NotFound
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, Cursor, OutModel, Page, QueryModel, decode_cursor, encode_cursor
from wartel.scope import Act, roles
from wartel.usecases import flags as flag_usecase
from wartel.usecases import personal

routes = EndpointTable()

REVIEWERS = roles(Act.REVIEW)
POLICY_SETTERS = roles(Act.SET_POLICY)
Status = Literal["open", "acknowledged", "confirmed", "dismissed"]
SubjectType = Literal["inmate", "number", "prefix", "officer", "facility", "region"]


class RuleOut(OutModel):
    id: str
    version: int
    severity: str
    weight: float
    subject: str
    title: str
    description: str
    defaults: dict[str, Any]
    legal_counsel_excluded: bool
    fraud: bool
    params: dict[str, Any] | None = Field(default=None, description="In force for the region asked for.")
    overrides: dict[str, Any] | None = None
    enabled: bool | None = None


class RulesQuery(QueryModel):
    region_id: int | None = None


@routes.get("/api/v1/detection/rules", summary="The rule catalogue, with a region's parameters in force",
            tags=["detection"], roles=REVIEWERS, query=RulesQuery, response=list[RuleOut], errors=(404,))
async def list_rules(req: web.Request, ctx: Ctx) -> list[RuleOut]:
    effective = None
    if ctx.query.region_id is not None:
        await ctx.scope.require_region_readable(ctx.db, ctx.query.region_id)
        effective = await review.effective_params(ctx.db, ctx.query.region_id)
    out = []
    for rule in RULES:
        extra = effective[rule.id] if effective else {}
        out.append(RuleOut(**rule.describe(ctx.language), **extra))
    return out


class RulePath(ApiModel):
    rule_id: str = Field(pattern=r"^[a-z_]{3,40}$")


class ParamsIn(ApiModel):
    region_id: int
    params: dict[str, Any] = Field(default_factory=dict, description="Only the keys to override; others keep the default.")
    enabled: bool = True


class ParamsOut(OutModel):
    rule_id: str
    region_id: int
    params: dict[str, Any]
    overrides: dict[str, Any]
    enabled: bool


@routes.put("/api/v1/detection/rules/{rule_id}/params", summary="Set a rule's parameters for a region",
            tags=["detection"], roles=POLICY_SETTERS, path_params=RulePath, body=ParamsIn, response=ParamsOut,
            errors=(404, 422))
async def set_rule_params(req: web.Request, ctx: Ctx) -> ParamsOut:
    if ctx.path.rule_id not in BY_ID:
        raise NotFound(f"no rule {ctx.path.rule_id}", code="rule_not_found", field="rule_id")
    await ctx.scope.require_region(ctx.db, ctx.body.region_id)
    got = await review.set_params(ctx.db, ctx.body.region_id, ctx.path.rule_id, ctx.body.params, ctx.body.enabled,
                                  user_id=ctx.user.user_id, actor=ctx.actor)
    return ParamsOut(rule_id=ctx.path.rule_id, region_id=ctx.body.region_id, **got)


class FlagOut(OutModel):
    id: int
    rule_id: str
    rule_version: int
    title: str
    severity: str
    weight: float
    region_id: int | None
    subject_type: str
    subject_key: str
    period_start: datetime
    facility_ids: list[int]
    metric: float | None
    evidence: dict[str, Any]
    status: str
    assigned_to: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    last_event_at: datetime
    reviewed_by: int | None
    reviewed_at: datetime | None
    review_reason: str | None


class FlagEventOut(OutModel):
    event_id: int
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    assigned_to: int | None = None
    actor_id: int | None
    at: datetime


class FlagDetailOut(FlagOut):
    description: str
    history: list[FlagEventOut]
    watchlist_entry_id: int | None = None
    cancelled_bookings: list[AffectedBooking] = Field(
        default_factory=list, description="Bookings the confirmed block cancelled (and credited), if any.")


def flag_out(row: dict[str, Any], lang: str) -> FlagOut:
    rule = BY_ID.get(row["rule_id"])
    title = rule.title.get(lang, rule.title["id"]) if rule else row["rule_id"]
    return FlagOut(**{k: v for k, v in row.items() if k in FlagOut.model_fields}, title=title)


class FlagsQuery(QueryModel):
    facility_id: int | None = None
    region_id: int | None = None
    status: Status | None = None
    rule_id: str | None = Field(default=None, pattern=r"^[a-z_]{3,40}$")
    subject_type: SubjectType | None = None
    subject_key: str | None = Field(default=None, max_length=40)
    assigned_to: int | None = None
    cursor: Cursor = None
    limit: int = Field(default=50, ge=1, le=200)


@routes.get("/api/v1/flags", summary="Flags in scope, newest first, filterable", tags=["detection"],
            roles=REVIEWERS, query=FlagsQuery, response=Page[FlagOut], errors=(400, 404))
async def list_flags(req: web.Request, ctx: Ctx) -> Page[FlagOut]:
    q = ctx.query
    facility_ids, region_ids = await ctx.scope.narrowed_flag_scope(ctx.db, q.facility_id, q.region_id)
    position = decode_cursor(q.cursor, (datetime, int))
    rows = await review.list_flags(
        ctx.db, facility_ids=facility_ids, region_ids=region_ids, status=q.status, rule_id=q.rule_id,
        subject_type=q.subject_type, subject_key=q.subject_key, assigned_to=q.assigned_to,
        after=position, limit=q.limit + 1)
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    cursor = encode_cursor(rows[-1]["last_event_at"], rows[-1]["id"]) if more else None
    return Page[FlagOut](items=[flag_out(r, ctx.language) for r in rows], next_cursor=cursor)


class QueueQuery(QueryModel):
    facility_id: int | None = None
    region_id: int | None = None
    days: int = Field(default=30, ge=1, le=365)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10_000)


class QueueItemOut(OutModel):
    region_id: int | None
    subject_type: str
    subject_key: str
    score: float = Field(description="Sum of the weights of the distinct rules that flagged the subject.")
    flags: int
    pending: int
    rules: list[str]
    last_event_at: datetime
    max_severity: str
    latest_flag_ids: list[int]


@routes.get("/api/v1/flags/queue", summary="Review queue: subjects ranked by 30-day composite score",
            tags=["detection"], roles=REVIEWERS, query=QueueQuery, response=list[QueueItemOut], errors=(404,))
async def flag_queue(req: web.Request, ctx: Ctx) -> list[QueueItemOut]:
    q = ctx.query
    facility_ids, region_ids = await ctx.scope.narrowed_flag_scope(ctx.db, q.facility_id, q.region_id)
    rows = await review.queue(ctx.db, facility_ids=facility_ids, region_ids=region_ids, days=q.days, limit=q.limit,
                              offset=q.offset)
    return [QueueItemOut(**r) for r in rows]


class PrecisionQuery(QueryModel):
    facility_id: int | None = None
    region_id: int | None = None


class PrecisionOut(OutModel):
    rule_id: str
    rule_version: int
    flags: int
    pending: int
    confirmed: int
    dismissed: int
    reviewed: int
    precision: float | None = Field(description="confirmed ÷ reviewed; null until something was reviewed")


@routes.get("/api/v1/flags/precision", cost="heavy", summary="Measured precision per rule (confirmed ÷ reviewed)",
            tags=["detection"], roles=REVIEWERS, query=PrecisionQuery, response=list[PrecisionOut], errors=(404,))
async def rule_precision(req: web.Request, ctx: Ctx) -> list[PrecisionOut]:
    facility_ids, region_ids = await ctx.scope.narrowed_flag_scope(ctx.db, ctx.query.facility_id, ctx.query.region_id)
    return [PrecisionOut(**r) for r in await review.precision(ctx.db, facility_ids=facility_ids,
                                                               region_ids=region_ids)]


class FlagPath(ApiModel):
    flag_id: int


async def _detail(ctx: Ctx, row: dict[str, Any]) -> FlagDetailOut:
    rule = BY_ID.get(row["rule_id"])
    base = flag_out(row, ctx.language).model_dump()
    history = [FlagEventOut(**e) for e in await review.flag_history(ctx.db, row["id"])]
    return FlagDetailOut(**base, description=rule.description.get(ctx.language, rule.description["id"]) if rule else "",
                         history=history, watchlist_entry_id=row.get("watchlist_entry_id"))


@routes.get("/api/v1/flags/{flag_id}", summary="A flag with its evidence and review history", tags=["detection"],
            roles=REVIEWERS, path_params=FlagPath, response=FlagDetailOut, errors=(404,))
async def get_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    flag = await personal.flag_evidence(ctx.db, ctx.scope, ctx.actor, req.app[keys.SECRET_KEY], ctx.path.flag_id)
    return await _detail(ctx, flag)


class ReasonIn(ApiModel):
    reason: str | None = Field(default=None, max_length=1000)


class RequiredReasonIn(ApiModel):
    reason: str = Field(min_length=1, max_length=1000)


class WatchIn(ApiModel):
    mode: Literal["blocked", "watched"] = "blocked"
    scope: Literal["facility", "region", "national"] = "region"
    scope_id: int | None = None


class ConfirmIn(ApiModel):
    reason: str | None = Field(default=None, max_length=1000)
    watchlist: WatchIn | None = Field(default=None, description="Also put the flag's number on the watchlist.")


async def _transition(ctx: Ctx, action: review.Action, reason: str | None,
                      watch: dict[str, Any] | None = None) -> FlagDetailOut:
    row, cancelled = await flag_usecase.review_flag(ctx.db, ctx.scope, ctx.path.flag_id, action, reason=reason,
                                                    actor=ctx.actor, watch=watch)
    detail = await _detail(ctx, row)
    detail.cancelled_bookings = [AffectedBooking(**c) for c in cancelled]
    return detail


@routes.post("/api/v1/flags/{flag_id}/acknowledge", summary="Acknowledge a flag (someone is looking)",
             tags=["detection"], roles=REVIEWERS, path_params=FlagPath, body=ReasonIn, response=FlagDetailOut,
             errors=(404, 409))
async def acknowledge_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    return await _transition(ctx, "acknowledge", ctx.body.reason)


@routes.post("/api/v1/flags/{flag_id}/confirm",
             summary="Confirm a flag; optionally put its number on the watchlist in the same step",
             tags=["detection"], roles=REVIEWERS, path_params=FlagPath, body=ConfirmIn, response=FlagDetailOut,
             errors=(404, 409, 422))
async def confirm_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    watch = ctx.body.watchlist.model_dump() if ctx.body.watchlist else None
    return await _transition(ctx, "confirm", ctx.body.reason, watch)


@routes.post("/api/v1/flags/{flag_id}/dismiss", summary="Dismiss a flag as a false positive (reason required)",
             tags=["detection"], roles=REVIEWERS, path_params=FlagPath, body=RequiredReasonIn,
             response=FlagDetailOut, errors=(404, 409, 422))
async def dismiss_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    return await _transition(ctx, "dismiss", ctx.body.reason)


@routes.post("/api/v1/flags/{flag_id}/reopen", summary="Reopen a confirmed or dismissed flag (reason required)",
             tags=["detection"], roles=REVIEWERS, path_params=FlagPath, body=RequiredReasonIn,
             response=FlagDetailOut, errors=(404, 409, 422))
async def reopen_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    return await _transition(ctx, "reopen", ctx.body.reason)


class AssignIn(ApiModel):
    user_id: int | None = Field(description="The reviewer to assign; null to unassign.")


@routes.post("/api/v1/flags/{flag_id}/assign", summary="Assign a flag to a reviewer", tags=["detection"],
             roles=REVIEWERS, path_params=FlagPath, body=AssignIn, response=FlagDetailOut, errors=(404, 422))
async def assign_flag(req: web.Request, ctx: Ctx) -> FlagDetailOut:
    row = await flag_usecase.assign_flag(ctx.db, ctx.scope, ctx.path.flag_id, ctx.body.user_id, actor=ctx.actor)
    return await _detail(ctx, row)


class NoteIn(ApiModel):
    note: str = Field(min_length=1, max_length=4000)


@routes.post("/api/v1/flags/{flag_id}/notes", summary="Add a note to a flag", tags=["detection"], roles=REVIEWERS,
             path_params=FlagPath, body=NoteIn, response=FlagEventOut, status=201, errors=(404, 422))
async def add_flag_note(req: web.Request, ctx: Ctx) -> FlagEventOut:
    facility_ids, region_ids = ctx.scope.flag_scope()
    row = await review.add_note(ctx.db, ctx.path.flag_id, ctx.body.note, user_id=ctx.user.user_id, actor=ctx.actor,
                                facility_ids=facility_ids, region_ids=region_ids)
    return FlagEventOut(**row)
