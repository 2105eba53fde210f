"""The endpoint table: one declaration per route gives parsing, auth, scoping, transactions and OpenAPI.

A handler is ``async def handler(req, ctx) -> OutModel | web.StreamResponse``. ``ctx`` carries the
principal, a pooled connection (inside a transaction for writes), the parsed body, query and path, the
audit actor and the language. Handlers parse nothing themselves and never build error responses: they
raise domain errors, which the error middleware maps.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from audit import Actor
from wartel import keys
from wartel.auth.principal import Principal
from wartel.config import Settings
from wartel.db import acquire, in_transaction
from wartel.http.cost import heavy_connection
from wartel.http.problems import Problem
from wartel.i18n import LANGUAGES
from wartel.scope import Scope, build_scope

Handler = Callable[[web.Request, "Ctx"], Awaitable[Any]]


@dataclass
class Ctx:
    request: web.Request
    principal: Principal | None
    conn: asyncpg.Connection | None
    settings: Settings
    request_id: str
    language: str
    body: Any = None
    query: Any = None
    path: Any = None
    scope_: Scope | None = None  # built once the connection is there (wartel.scope.build_scope)

    @property
    def scope(self) -> Scope:
        assert self.scope_ is not None, "endpoint declared public or db=False but needs a scope"
        return self.scope_

    @scope.setter
    def scope(self, value: Scope) -> None:
        self.scope_ = value

    @property
    def actor(self) -> Actor:
        if self.principal is None:
            return Actor(type="system", id="anonymous", request_id=self.request_id)
        return self.principal.actor(self.request_id)

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "endpoint declared public but needs a principal"
        return self.principal

    @property
    def db(self) -> asyncpg.Connection:
        assert self.conn is not None, "endpoint declared db=False but needs a connection"
        return self.conn


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: tuple[str, ...]
    roles: frozenset[str] | None  # None: public
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_model: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    write: bool = False
    idempotent: bool = False
    db: bool = True
    auth: str = "user"  # "user" (session or bearer), "device" (kiosk token), "none"
    request_content: dict[str, Any] | None = None  # for non-JSON bodies (CSV upload)
    response_content: dict[str, Any] | None = None  # for non-JSON responses (CSV, SSE, HTML)
    errors: tuple[int, ...] = ()
    # "heavy": reports, searches, link views, imports: their own pool and statement budget (wartel.http.cost).
    cost: Literal["interactive", "heavy"] = "interactive"
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class EndpointTable:
    """Collects a module's endpoints; the app factory mounts every table."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(self, method: str, path: str, *, summary: str, tags: Iterable[str] = (),
              roles: Iterable[str] | None = ("officer", "security", "regional", "admin"),
              **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(
                method=method.upper(), path=path, handler=handler, summary=summary, tags=tuple(tags),
                roles=None if roles is None else frozenset(roles),
                path_model=options.pop("path_params", None), **options))
            return handler
        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, write=kw.pop("write", True), **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, write=kw.pop("write", True), **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, write=kw.pop("write", True), **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, write=kw.pop("write", True), **kw)


def validation_problem(exc: ValidationError, prefix: str = "", whole: str = "body") -> Problem:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return Problem(400, "invalid_json", "the body is not valid JSON", field="body")
    first = errors[0] if errors else {"loc": (), "msg": "invalid"}
    loc = ".".join(str(p) for p in first["loc"])
    field_name = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or whole)
    return Problem(422, "validation_failed", f"{field_name or 'body'}: {first['msg']}", field=field_name,
                   errors=[{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                           for e in errors])


async def _read_json_body(req: web.Request, model: type[BaseModel]) -> BaseModel:
    ctype = req.content_type
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise Problem(415, "unsupported_media_type", f"send application/json, not {ctype or 'nothing'}",
                      field="Content-Type")
    limit = req.app[keys.SETTINGS].max_body_bytes
    if (req.content_length or 0) > limit:
        raise Problem(413, "body_too_large", f"a JSON body may be at most {limit} bytes", field="body")
    raw = await req.read()
    if len(raw) > limit:
        raise Problem(413, "body_too_large", f"a JSON body may be at most {limit} bytes", field="body")
    try:
        # strict: "5" is not 5 and 1 is not true; JSON strings still parse as dates and times.
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        raise validation_problem(exc) from exc


def _parse(model: type[BaseModel], data: dict[str, Any], whole: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A rule over several parameters names the query (or path) as a whole, not a body there is none of.
        raise validation_problem(exc, "", whole) from exc


def _idempotency_principal(ctx: Ctx) -> str:
    return f"user:{ctx.principal.user_id}" if ctx.principal else f"device:{ctx.request.get('device_id')}"


async def _run_idempotent(ep: Endpoint, req: web.Request, ctx: Ctx, key: str) -> web.StreamResponse:
    conn = ctx.db
    request_hash = hashlib.sha256(
        f"{ep.method} {req.path}\n".encode() + (await req.read())).hexdigest()
    who = _idempotency_principal(ctx)
    # A concurrent retry blocks on this row's unique index until the first attempt commits or rolls back.
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING true", who, key, request_hash)
    if not claimed:
        row = await conn.fetchrow(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys "
            "WHERE principal = $1 AND key = $2", who, key)
        if row["request_hash"] != request_hash:
            raise Problem(422, "idempotency_key_reused", "this Idempotency-Key was used for another request",
                          field="Idempotency-Key")
        return web.json_response(row["response_body"], status=row["response_status"],
                                 headers={"Idempotent-Replayed": "true"})
    result = await ep.handler(req, ctx)
    response = render(ep, result)
    if isinstance(response, web.Response) and response.body is not None:
        await conn.execute(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4::text::jsonb "
            "WHERE principal = $1 AND key = $2", who, key, response.status, response.text)
    return response


def render(ep: Endpoint, result: Any) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204 if ep.status in (200, 204) else ep.status)
    if isinstance(result, BaseModel):
        payload = result.model_dump_json()
    elif isinstance(result, list) and result and isinstance(result[0], BaseModel):
        # A list of models (list[FacilityOut] and the like): dump each with its own serialiser.
        payload = "[" + ",".join(item.model_dump_json() for item in result) + "]"
    else:
        payload = json.dumps(result, default=str, ensure_ascii=False)
    return web.Response(status=ep.status, text=payload, content_type="application/json")


_PATH_PARAM = re.compile(r"{(\w+)}")


def make_view(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(req: web.Request) -> web.StreamResponse:
        settings: Settings = req.app[keys.SETTINGS]
        principal: Principal | None = req.get(keys.PRINCIPAL)
        if ep.auth == "user":
            if principal is None:
                raise Problem(401, "unauthenticated", "log in or send a bearer token",
                              headers={"WWW-Authenticate": 'Bearer realm="wartel"'})
            if ep.roles is not None and principal.role not in ep.roles:
                raise Problem(403, "forbidden_role", f"the {principal.role} role may not do this")
        elif ep.auth == "device" and req.get(keys.DEVICE) is None:
            raise Problem(401, "unauthenticated", "send the booth device's bearer token",
                          headers={"WWW-Authenticate": 'Bearer realm="wartel-device"'})
        ctx = Ctx(request=req, principal=principal, conn=None, settings=settings,
                  request_id=req.get(keys.REQUEST_ID, "-"), language=req.get(keys.LANGUAGE, "id"))
        if ep.path_model is not None:
            ctx.path = _parse(ep.path_model, dict(req.match_info), "path")
        query = dict(req.query)
        # ?lang= is the README's language switch on every endpoint; the request_context middleware has already
        # chosen the language from it, so query models never see it (nor refuse it as an unknown name).
        lang = query.pop("lang", None)
        if lang is not None and lang not in LANGUAGES:
            raise Problem(422, "validation_failed", "lang: one of 'id' or 'en'", field="lang")
        if ep.query is not None:
            ctx.query = _parse(ep.query, query, "query")
        if ep.body is not None:
            ctx.body = await _read_json_body(req, ep.body)
        key = req.headers.get("Idempotency-Key") if ep.idempotent else None
        if key is not None and not 1 <= len(key) <= 200:
            raise Problem(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 200 characters",
                          field="Idempotency-Key")
        if not ep.db:
            return render(ep, await ep.handler(req, ctx))
        shared = req.get(keys.CONN)  # the one the auth middleware took for this request
        if ep.cost == "heavy":
            checkout: Any = heavy_connection(req)
        elif shared is not None:
            checkout = contextlib.nullcontext(shared)
        else:
            checkout = acquire(req.app[keys.POOL], settings.db_acquire_timeout_s)
        async with checkout as conn:
            ctx.conn = conn
            if principal is not None:
                ctx.scope = await build_scope(conn, principal)

            async def body() -> web.StreamResponse:
                if key is not None:
                    return await _run_idempotent(ep, req, ctx, key)
                return render(ep, await ep.handler(req, ctx))

            return await in_transaction(conn, body, write=ep.write)

    view.__name__ = ep.handler.__name__
    # Read by the auth middleware: it hands its interactive connection on, except to streams (db=False) and
    # heavy requests, which must not keep one of the interactive pool's connections while they run.
    view.uses_db = ep.db and ep.cost != "heavy"  # type: ignore[attr-defined]
    return view


def mount(app: web.Application, tables: Iterable[EndpointTable]) -> list[Endpoint]:
    mounted: list[Endpoint] = []
    for table in tables:
        for ep in table.endpoints:
            app.router.add_route(ep.method, ep.path, make_view(ep), name=ep.operation_id)
            mounted.append(ep)
    return mounted
