"""Contacts: register (number normalised to E.164), verify, reject, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from wartel import keys
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel, QueryModel
from wartel.http.problems import register_constraint
from wartel.registry import contacts
from wartel.scope import Act, roles
from wartel.usecases import personal

routes = EndpointTable()

EVERYONE = roles(Act.READ)
REVOKERS = roles(Act.REVOKE_CONTACT)
REGISTRARS = roles(Act.REGISTER)
Relation = Literal["spouse", "parent", "child", "sibling", "relative", "guardian", "legal_counsel", "other"]

# Backstops for violations that slip past the domain's own checks (e.g. a cap lowered concurrently).
register_constraint("contact_family_cap", "family_contact_cap_reached", 409, "relation")
register_constraint("contact_number_once_per_inmate", "contact_already_registered", 409, "phone")


class ContactIn(ApiModel):
    phone: str = Field(min_length=1, max_length=40, description="Any common form: 0812-…, +62 812…, 62812…")
    name: str = Field(min_length=1, max_length=200)
    relation: Relation


class VerifyIn(ApiModel):
    method: Literal["ktp", "callback", "in_person", "bar_card"] = Field(
        description="ktp: ID card shown; callback: the number was called first; bar_card: advocate's card")


class ReasonIn(ApiModel):
    reason: str = Field(min_length=1, max_length=500)


class ContactOut(OutModel):
    id: int
    inmate_id: int
    phone_e164: str | None = Field(description="null once erased (erased_at)")
    name: str | None = Field(description="null once erased (erased_at)")
    relation: str
    is_legal_counsel: bool
    status: str
    verification_method: str | None
    verified_by: int | None
    verified_at: datetime | None
    status_reason: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None


class InmatePath(ApiModel):
    inmate_id: int


class ContactPath(ApiModel):
    contact_id: int


class ContactsQuery(QueryModel):
    status: Literal["pending", "verified", "rejected", "revoked"] | None = None


def _contact(row: object) -> ContactOut:
    return ContactOut.model_validate(dict(row))  # type: ignore[call-overload]


@routes.get("/api/v1/inmates/{inmate_id}/contacts", summary="An inmate's contacts", tags=["registry"],
            path_params=InmatePath, query=ContactsQuery, response=list[ContactOut], errors=(404,))
async def list_contacts(req: web.Request, ctx: Ctx) -> list[ContactOut]:
    rows = await personal.inmate_contacts(ctx.db, ctx.scope, ctx.actor, ctx.path.inmate_id, status=ctx.query.status)
    return [_contact(r) for r in rows]


@routes.post("/api/v1/inmates/{inmate_id}/contacts", summary="Register a contact (pending verification)",
             tags=["registry"], roles=REGISTRARS, path_params=InmatePath, body=ContactIn, response=ContactOut,
             status=201, idempotent=True, errors=(404, 409))
async def register_contact(req: web.Request, ctx: Ctx) -> ContactOut:
    b = ctx.body
    row = await contacts.register_contact(ctx.db, ctx.user, ctx.path.inmate_id, phone=b.phone, name=b.name,
                                          relation=b.relation, actor=ctx.actor, ref_key=req.app[keys.SECRET_KEY])
    return _contact(row)


@routes.get("/api/v1/contacts/{contact_id}", summary="One contact", tags=["registry"], path_params=ContactPath,
            response=ContactOut, errors=(404,))
async def get_contact(req: web.Request, ctx: Ctx) -> ContactOut:
    return _contact(await personal.contact(ctx.db, ctx.scope, ctx.actor, ctx.path.contact_id))


@routes.post("/api/v1/contacts/{contact_id}/verify", summary="Verify a pending contact (records who, how, when)",
             tags=["registry"], roles=REGISTRARS, path_params=ContactPath, body=VerifyIn, response=ContactOut,
             errors=(404, 409))
async def verify_contact(req: web.Request, ctx: Ctx) -> ContactOut:
    return _contact(await contacts.verify_contact(ctx.db, ctx.user, ctx.path.contact_id, method=ctx.body.method,
                                                  actor=ctx.actor))


@routes.post("/api/v1/contacts/{contact_id}/reject", summary="Reject a pending contact", tags=["registry"],
             roles=REGISTRARS, path_params=ContactPath, body=ReasonIn, response=ContactOut, errors=(404, 409))
async def reject_contact(req: web.Request, ctx: Ctx) -> ContactOut:
    return _contact(await contacts.reject_contact(ctx.db, ctx.user, ctx.path.contact_id, reason=ctx.body.reason,
                                                  actor=ctx.actor))


@routes.post("/api/v1/contacts/{contact_id}/revoke", summary="Revoke a contact (security may block a number)",
             tags=["registry"], roles=REVOKERS, path_params=ContactPath, body=ReasonIn, response=ContactOut,
             errors=(404, 409))
async def revoke_contact(req: web.Request, ctx: Ctx) -> ContactOut:
    return _contact(await contacts.revoke_contact(ctx.db, ctx.user, ctx.path.contact_id, reason=ctx.body.reason,
                                                  actor=ctx.actor))
