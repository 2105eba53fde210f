"""The audit log over HTTP: search, entries with inclusion proofs, checkpoints, consistency, verification.

Scoping: security staff of a facility see that facility's log; regional staff and regional security see the
logs of their region's facilities and the region's own log; the admin sees every log, the national one too.
A log outside the caller's scope reads as unknown (404).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field, ValidationInfo, field_validator, model_validator

from audit import LogRef, verification_status
from audit.checkpoints import (
    Checkpoint,
    consistency_proof,
    export_document,
    inclusion_proof,
    key_retirements,
    list_checkpoints,
    make_checkpoints,
    public_keys,
    tree_cache_for,
)
from audit.errors import CheckpointNotFound, EntryNotFound, LogNotFound
from audit.search import EntryFilter, get_entry, log_id_of, log_ids_of, search_entries
from wartel import keys
from wartel.audit_service import log_labels, signing_key
from wartel.http.bounds import MAX_RANGE_DAYS, Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, Cursor, OutModel, Page, QueryModel, decode_cursor, encode_cursor
from wartel.scope import Act, roles
from wartel.usecases import directory

routes = EndpointTable()
READERS = roles(Act.AUDIT)
TAGS = ["audit"]
_LOG_KEY = r"^(facility-[0-9]{1,18}|region-[0-9]{1,18}|national)$"


def parse_log_key(key: str) -> LogRef:
    """``facility-3``, ``region-1`` or ``national``."""
    m = re.match(r"^(facility|region)-([0-9]{1,18})$", key)
    if m:
        return LogRef(m.group(1), int(m.group(2)))  # type: ignore[arg-type]
    return LogRef.national()


def log_key(scope: str, scope_id: int) -> str:
    return "national" if scope == "national" else f"{scope}-{scope_id}"


async def _require_log(ctx: Ctx, key: str) -> tuple[LogRef, int | None]:
    """The log named by ``key`` if the caller may see it (its id, or ``None`` while it has no entries)."""
    log = parse_log_key(key)
    if not await ctx.scope.sees_log(ctx.db, log):
        raise LogNotFound(f"audit log {key} not found", field="log")
    return log, await log_id_of(ctx.db, log)


class LogPath(ApiModel):
    log: str = Field(pattern=_LOG_KEY, description="facility-<id>, region-<id> or national")


class EntryPath(LogPath):
    seq: int = Field(ge=1, le=2**62)


class Actor(OutModel):
    type: str
    id: str | None
    role: str | None


class Subject(OutModel):
    type: str
    id: str


class EntryOut(OutModel):
    log: str = Field(description="facility-<id>, region-<id> or national")
    seq: int
    recorded_at: datetime
    actor: Actor
    action: str
    subject: Subject
    payload: dict[str, Any]
    request_id: str | None
    leaf_hash: str = Field(description="RFC 6962 leaf hash (hex) of the entry's canonical text")


def _entry(r: Any) -> EntryOut:
    return EntryOut(log=log_key(r["scope"], r["scope_id"]), seq=r["seq"], recorded_at=r["recorded_at"],
                    actor=Actor(type=r["actor_type"], id=r["actor_id"], role=r["actor_role"]), action=r["action"],
                    subject=Subject(type=r["subject_type"], id=r["subject_id"]), payload=r["payload"],
                    request_id=r["request_id"], leaf_hash=bytes(r["leaf_hash"]).hex())


class EntriesQuery(QueryModel):
    log: str | None = Field(default=None, pattern=_LOG_KEY, description="one log; default every visible log")
    facility_id: int | None = Field(default=None, ge=1, le=2**62, description="shorthand for log=facility-<id>")
    actor_id: str | None = Field(default=None, max_length=100, description="user id (or device or job name)")
    subject_type: str | None = Field(default=None, max_length=100)
    subject_id: str | None = Field(default=None, max_length=200)
    action: str | None = Field(default=None, max_length=100, description="exact, or a prefix ending in '.'")
    since: Timestamp | None = None
    until: Timestamp | None = None
    cursor: Cursor = None
    limit: int = Field(default=50, ge=1, le=500)

    @model_validator(mode="after")
    def _consistent(self) -> EntriesQuery:
        if self.log is not None and self.facility_id is not None:
            raise ValueError("give log or facility_id, not both")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    @field_validator("until")
    @classmethod
    def _at_most_a_year(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and (until - since).days > MAX_RANGE_DAYS:
            raise ValueError(f"a search covers at most {MAX_RANGE_DAYS} days between since and until")
        return until


@routes.get("/api/v1/audit/entries", cost="heavy", summary="Search the audit log (newest first)", tags=TAGS, roles=READERS,
            query=EntriesQuery, response=Page[EntryOut], errors=(404,))
async def search_audit_entries(req: web.Request, ctx: Ctx) -> Page[EntryOut]:
    qy: EntriesQuery = ctx.query
    key = qy.log or (f"facility-{qy.facility_id}" if qy.facility_id is not None else None)
    if key is not None:
        _, log_id = await _require_log(ctx, key)
        log_ids: list[int] | None = [log_id] if log_id is not None else []
    else:
        logs = ctx.scope.visible_logs()
        log_ids = None if logs is None else await log_ids_of(ctx.db, logs)
    cursor = decode_cursor(qy.cursor, (datetime, int, int))
    if log_ids == []:
        return Page[EntryOut](items=[])
    flt = EntryFilter(actor_id=qy.actor_id, subject_type=qy.subject_type, subject_id=qy.subject_id,
                      action=qy.action, since=qy.since, until=qy.until)
    rows = await search_entries(ctx.db, log_ids, flt, after=cursor, limit=qy.limit + 1)
    items = [_entry(r) for r in rows[:qy.limit]]
    next_cursor = None
    if len(rows) > qy.limit:
        last = rows[qy.limit - 1]
        next_cursor = encode_cursor(last["recorded_at"], last["log_id"], last["seq"])
    return Page[EntryOut](items=items, next_cursor=next_cursor)


class CheckpointOut(OutModel):
    log: str
    size: int
    root_hash: str = Field(description="hex")
    signed_at: datetime
    key_id: str
    signature: str = Field(description="Ed25519 over the checkpoint note, hex")
    note: str = Field(description="the exact text the signature covers")


def _checkpoint(cp: Checkpoint) -> CheckpointOut:
    scope, _, scope_id = cp.log_name.partition(":")
    return CheckpointOut(log=log_key(scope, int(scope_id)), size=cp.size, root_hash=cp.root_hash.hex(),
                         signed_at=cp.signed_at, key_id=cp.key_id, signature=cp.signature.hex(),
                         note=cp.message().decode())


class InclusionOut(OutModel):
    entry: EntryOut
    leaf_index: int = Field(description="seq - 1")
    tree_size: int
    proof: list[str] = Field(description="RFC 9162 inclusion path, hex, leaf to root")
    checkpoint: CheckpointOut


@routes.get("/api/v1/audit/logs/{log}/entries/{seq}", summary="One entry with its inclusion proof against the "
            "latest checkpoint", tags=TAGS, roles=READERS, path_params=EntryPath, response=InclusionOut,
            errors=(404, 409))
async def get_audit_entry(req: web.Request, ctx: Ctx) -> InclusionOut:
    _, log_id = await _require_log(ctx, ctx.path.log)
    row = await get_entry(ctx.db, log_id, ctx.path.seq) if log_id is not None else None
    if row is None:
        raise EntryNotFound(f"entry {ctx.path.seq} not found", field="seq")
    proof = await inclusion_proof(ctx.db, log_id, ctx.path.seq, tree_cache_for(req.app[keys.POOL]))
    return InclusionOut(entry=_entry(row), leaf_index=proof.leaf_index, tree_size=proof.checkpoint.size,
                        proof=[p.hex() for p in proof.path], checkpoint=_checkpoint(proof.checkpoint))


class CheckpointsQuery(QueryModel):
    cursor: Cursor = None
    limit: int = Field(default=100, ge=1, le=1000)


@routes.get("/api/v1/audit/logs/{log}/checkpoints", summary="A log's signed checkpoints, oldest first",
            tags=TAGS, roles=READERS, path_params=LogPath, query=CheckpointsQuery, response=Page[CheckpointOut],
            errors=(404,))
async def list_audit_checkpoints(req: web.Request, ctx: Ctx) -> Page[CheckpointOut]:
    _, log_id = await _require_log(ctx, ctx.path.log)
    if log_id is None:
        return Page[CheckpointOut](items=[])
    after = decode_cursor(ctx.query.cursor, (int,))
    cps = await list_checkpoints(ctx.db, [log_id], after_size=after[0] if after else None,
                                 limit=ctx.query.limit + 1)
    items = [_checkpoint(cp) for cp in cps[:ctx.query.limit]]
    more = len(cps) > ctx.query.limit
    return Page[CheckpointOut](items=items, next_cursor=encode_cursor(items[-1].size) if more else None)


class ConsistencyQuery(QueryModel):
    old_size: int = Field(ge=1, le=2**62)
    new_size: int = Field(ge=1, le=2**62)

    @model_validator(mode="after")
    def _ordered(self) -> ConsistencyQuery:
        if self.old_size > self.new_size:
            raise ValueError("old_size must not exceed new_size")
        return self


class ConsistencyOut(OutModel):
    old: CheckpointOut
    new: CheckpointOut
    proof: list[str] = Field(description="RFC 9162 consistency proof, hex")


@routes.get("/api/v1/audit/logs/{log}/consistency", cost="heavy", summary="Consistency proof between two checkpoints",
            tags=TAGS, roles=READERS, path_params=LogPath, query=ConsistencyQuery, response=ConsistencyOut,
            errors=(404,))
async def get_audit_consistency(req: web.Request, ctx: Ctx) -> ConsistencyOut:
    _, log_id = await _require_log(ctx, ctx.path.log)
    if log_id is None:
        raise CheckpointNotFound("this log has no checkpoints yet", field="old_size")
    old, new, proof = await consistency_proof(ctx.db, log_id, ctx.query.old_size, ctx.query.new_size,
                                              tree_cache_for(req.app[keys.POOL]))
    return ConsistencyOut(old=_checkpoint(old), new=_checkpoint(new), proof=[p.hex() for p in proof])


class VerificationOut(OutModel):
    log: str
    label: str | None = Field(description="facility or region code")
    size: int = Field(description="entries appended so far")
    latest_checkpoint_size: int | None
    latest_checkpoint_at: datetime | None
    verified_at: datetime | None = Field(description="last `wartel audit verify` run; null: never verified")
    verified_ok: bool | None
    verified_size: int | None
    first_bad_seq: int | None
    detail: str | None


@routes.get("/api/v1/audit/logs", summary="The logs you may see, with size, latest checkpoint and last "
            "verification result", tags=TAGS, roles=READERS, response=list[VerificationOut])
async def list_audit_logs(req: web.Request, ctx: Ctx) -> list[VerificationOut]:
    _, logs, checkpoints = await directory.audit_logs_in_view(ctx.db, ctx.scope)
    rows = [{**dict(r), "cp_size": checkpoints[r["log_id"]]["size"] if r["log_id"] in checkpoints else None,
             "cp_at": checkpoints[r["log_id"]]["signed_at"] if r["log_id"] in checkpoints else None}
            for r in logs]
    status = await verification_status(ctx.db, [r["log_id"] for r in rows])
    labels = await log_labels(ctx.db)
    out = []
    for r in rows:
        s = status[r["log_id"]]
        out.append(VerificationOut(
            log=log_key(r["scope"], r["scope_id"]), label=labels.get(f"{r['scope']}:{r['scope_id']}"),
            size=r["size"], latest_checkpoint_size=r["cp_size"], latest_checkpoint_at=r["cp_at"],
            verified_at=s.verified_at if s else None, verified_ok=s.ok if s else None,
            verified_size=s.size if s else None, first_bad_seq=s.first_bad_seq if s else None,
            detail=s.detail if s else None))
    return out


class CheckpointNowIn(ApiModel):
    log: str | None = Field(default=None, pattern=_LOG_KEY, description="one log; default every visible log")


class CheckpointNowOut(OutModel):
    made: list[CheckpointOut]
    refused: list[str] = Field(description="logs not signed because their history no longer extends their "
                                           "last checkpoint; run `wartel audit verify`")


@routes.post("/api/v1/audit/checkpoints", cost="heavy", summary="Sign a checkpoint now of every visible log that grew",
             tags=TAGS, roles=READERS, body=CheckpointNowIn, response=CheckpointNowOut, errors=(404,))
async def make_audit_checkpoints(req: web.Request, ctx: Ctx) -> CheckpointNowOut:
    if ctx.body.log is not None:
        _, log_id = await _require_log(ctx, ctx.body.log)
        log_ids: list[int] | None = [log_id] if log_id is not None else []
    else:
        logs = ctx.scope.visible_logs()
        log_ids = None if logs is None else await log_ids_of(ctx.db, logs)
    if log_ids == []:
        return CheckpointNowOut(made=[], refused=[])
    made, refused = await make_checkpoints(ctx.db, signing_key(ctx.settings), log_ids,
                                           tree_cache_for(req.app[keys.POOL]))
    return CheckpointNowOut(made=[_checkpoint(cp) for cp in made], refused=refused)


class ExportQuery(QueryModel):
    log: str | None = Field(default=None, pattern=_LOG_KEY)


@routes.get("/api/v1/audit/checkpoints/export", cost="heavy", summary="The signed checkpoints document to keep outside the "
            "facility (latest checkpoint of each visible log, with the public key)", tags=TAGS, roles=READERS,
            query=ExportQuery, errors=(404,),
            response_content={"application/json": {"schema": {"type": "object"}}})
async def export_audit_checkpoints(req: web.Request, ctx: Ctx) -> web.Response:
    if ctx.query.log is not None:
        _, log_id = await _require_log(ctx, ctx.query.log)
        log_ids: list[int] | None = [log_id] if log_id is not None else []
    else:
        logs = ctx.scope.visible_logs()
        log_ids = None if logs is None else await log_ids_of(ctx.db, logs)
    cps = [] if log_ids == [] else await list_checkpoints(ctx.db, log_ids, limit=None, latest_only=True)
    doc = export_document(cps, signing_key(ctx.settings), await public_keys(ctx.db), await log_labels(ctx.db),
                          await key_retirements(ctx.db))
    stamp = doc["exported_at"][:19].replace(":", "").replace("-", "")
    return web.json_response(doc, headers={
        "Content-Disposition": f'attachment; filename="wartel-checkpoints-{stamp}.json"'})

