"""Login, logout and API tokens for integrations."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from wartel.auth import credentials
from wartel.http.bounds import Timestamp
from wartel.http.endpoints import Ctx, EndpointTable
from wartel.http.models import ApiModel, OutModel
from wartel.http.problems import Problem
from wartel.usecases import tokens

routes = EndpointTable()


class LoginIn(ApiModel):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


class Me(OutModel):
    user_id: int
    username: str
    role: str
    facility_id: int | None
    region_id: int | None
    language: str
    csrf_token: str | None = None


def _me(ctx: Ctx) -> Me:
    p = ctx.user
    return Me(user_id=p.user_id, username=p.username, role=p.role, facility_id=p.facility_id,
              region_id=p.region_id, language=p.language, csrf_token=p.csrf_token)


def set_session_cookie(resp: web.StreamResponse, token: str, ctx: Ctx) -> None:
    resp.set_cookie(credentials.SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                    secure=ctx.settings.cookie_secure, max_age=ctx.settings.session_ttl_s)


@routes.post("/api/v1/auth/login", summary="Log in with username and password; sets the session cookie",
             tags=["auth"], roles=None, auth="none", body=LoginIn, response=Me, write=False, errors=(401, 429))
async def login(req: web.Request, ctx: Ctx) -> web.Response:
    """A new session id is issued at every login, so a session id planted before login is worthless."""
    try:
        row = await credentials.check_password(
            ctx.db, ctx.body.username, ctx.body.password, remote=req.remote,
            max_failures=ctx.settings.login_max_failures, window_s=ctx.settings.login_window_s)
    except credentials.LoginThrottled as exc:
        raise Problem(429, "login_throttled", "too many failed logins; wait and try again",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
    if row is None:
        raise Problem(401, "login_failed", "wrong username or password", field="password")
    token, csrf = await credentials.create_session(ctx.db, row["id"], ctx.settings.session_ttl_s,
                                                   ctx.language, ctx.request_id)
    me = Me(user_id=row["id"], username=row["username"], role=row["role"], facility_id=row["scope_facility_id"],
            region_id=row["scope_region_id"], language=ctx.language, csrf_token=csrf)
    resp = web.Response(text=me.model_dump_json(), content_type="application/json")
    set_session_cookie(resp, token, ctx)
    return resp


@routes.post("/api/v1/auth/logout", summary="End the session", tags=["auth"], write=False)
async def logout(req: web.Request, ctx: Ctx) -> web.Response:
    token = req.cookies.get(credentials.SESSION_COOKIE)
    if token:
        await credentials.end_session(ctx.db, token)
    resp = web.Response(status=204)
    resp.del_cookie(credentials.SESSION_COOKIE, path="/")
    return resp


@routes.get("/api/v1/auth/me", summary="Who am I", tags=["auth"], response=Me, db=False)
async def me(req: web.Request, ctx: Ctx) -> Me:
    return _me(ctx)


class TokenIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: Timestamp | None = None


class TokenOut(OutModel):
    id: int
    name: str
    token: str = Field(description="Shown once; only its hash is stored.")


class TokenPath(ApiModel):
    token_id: int


@routes.post("/api/v1/auth/tokens", summary="Create an API token for yourself", tags=["auth"], body=TokenIn,
             response=TokenOut, status=201, write=False)
async def create_token(req: web.Request, ctx: Ctx) -> TokenOut:
    token_id, token = await credentials.create_api_token(ctx.db, ctx.user.user_id, ctx.body.name,
                                                         actor=ctx.actor, expires_at=ctx.body.expires_at)
    return TokenOut(id=token_id, name=ctx.body.name, token=token)


@routes.delete("/api/v1/auth/tokens/{token_id}", summary="Revoke one of your API tokens (admin: any)",
               tags=["auth"], path_params=TokenPath, write=False, errors=(404,))
async def revoke_token(req: web.Request, ctx: Ctx) -> None:
    await tokens.revoke_token(ctx.db, ctx.scope, ctx.path.token_id, actor=ctx.actor)


