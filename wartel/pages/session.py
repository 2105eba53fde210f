"""Login, logout, the language switch and the landing page of each role."""

from __future__ import annotations

import secrets

from aiohttp import web

from audit import Actor
from wartel import keys
from wartel.auth import credentials
from wartel.db import acquire
from wartel.i18n import LANGUAGES, t
from wartel.pages.framework import PageCtx, page, redirect, render_page, safe_next
from wartel.users import set_user_language

routes = web.RouteTableDef()

# Login forms carry a token matched against a cookie of their own (double submit): nobody can log a
# victim's browser into the attacker's account from another site.
LOGIN_CSRF_COOKIE = "wartel_login_csrf"

HOME_BY_ROLE = {"officer": "/officer", "security": "/security", "regional": "/regional", "admin": "/regional"}


def _login_form(req: web.Request, *, status: int = 200, error: str | None = None,
                username: str = "") -> web.Response:
    token = req.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    # Only a language picked on this page is a choice (saved on the account at login); the browser's is not.
    chosen = req.query.get("lang", "")
    resp = render_page(req, "login.html", status=status, login_token=token, error=error, username=username,
                       chosen_language=chosen if chosen in LANGUAGES else "",
                       next=safe_next(req.query.get("next") or None, ""),
                       message=req.query.get("msg"))
    settings = req.app[keys.SETTINGS]
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                    secure=settings.cookie_secure, max_age=3600)
    return resp


@routes.get("/login", name="page_login")
async def login_page(req: web.Request) -> web.StreamResponse:
    if req.get(keys.PRINCIPAL) is not None:
        raise web.HTTPFound(safe_next(req.query.get("next")))
    return _login_form(req)


@routes.post("/login", name="page_login_submit")
async def login_submit(req: web.Request) -> web.StreamResponse:
    form = await req.post()
    lang = req.get(keys.LANGUAGE, "id")
    sent = str(form.get("login_token", ""))
    expected = req.cookies.get(LOGIN_CSRF_COOKIE, "")
    username = str(form.get("username", "")).strip()[:40]
    password = str(form.get("password", ""))[:200]
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):  # bytes: any text sent
        return _login_form(req, status=403, error=t(lang, "page.login.expired"), username=username)
    if not username or not password:
        return _login_form(req, status=422, error=t(lang, "page.login.missing"), username=username)
    chosen = str(form.get("language", ""))
    settings = req.app[keys.SETTINGS]
    async with acquire(req.app[keys.POOL], settings.db_acquire_timeout_s) as conn:
        try:
            row = await credentials.check_password(
                conn, username, password, remote=req.remote, max_failures=settings.login_max_failures,
                window_s=settings.login_window_s)
        except credentials.LoginThrottled as exc:
            minutes = max(1, exc.retry_after_s // 60)
            return _login_form(req, status=429, error=t(lang, "page.login.throttled", minutes=minutes),
                               username=username)
        if row is None:
            return _login_form(req, status=401, error=t(lang, "page.login.failed"), username=username)
        if chosen in LANGUAGES:
            actor = Actor(type="user", id=str(row["id"]), role=row["role"], request_id=req.get(keys.REQUEST_ID))
            async with conn.transaction():
                await set_user_language(conn, row["id"], chosen, actor=actor)
        token, _ = await credentials.create_session(conn, row["id"], settings.session_ttl_s,
                                                    chosen if chosen in LANGUAGES else lang,
                                                    req.get(keys.REQUEST_ID))
    target = safe_next(str(form.get("next", "")) or None, HOME_BY_ROLE.get(row["role"], "/"))
    resp = web.HTTPSeeOther(target)
    resp.set_cookie(credentials.SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                    secure=settings.cookie_secure, max_age=settings.session_ttl_s)
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise resp


@routes.post("/logout", name="page_logout")
@page()
async def logout(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    token = req.cookies.get(credentials.SESSION_COOKIE)
    if token:
        await credentials.end_session(pc.conn, token)
    resp = redirect("/login", msg="logged_out")
    resp.del_cookie(credentials.SESSION_COOKIE, path="/")
    raise resp


@routes.post("/language", name="page_language")
@page(write=True)
async def switch_language(req: web.Request, pc: PageCtx) -> web.StreamResponse:
    """Saved on the account: every later page, every session of the user and API problem titles use it."""
    form = await req.post()
    language = str(form.get("language", ""))
    if language in LANGUAGES:
        await set_user_language(pc.conn, pc.user.user_id, language, actor=pc.actor)
        await credentials.set_session_language(pc.conn, req.cookies[credentials.SESSION_COOKIE], language)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")) or None, "/"))


@routes.get("/", name="page_home")
async def home(req: web.Request) -> web.StreamResponse:
    user = req.get(keys.PRINCIPAL)
    if user is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound(HOME_BY_ROLE.get(user.role, "/login"))
