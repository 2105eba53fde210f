"""What every page shares: who is logged in, a pooled connection, rendering, errors shown as pages.

Page handlers are ``async def handler(req, pc) -> web.StreamResponse`` decorated with :func:`page`. They
call the same domain functions as the API (never HTTP to ourselves) and render templates. A domain error
a handler does not catch itself becomes an error page with the error's localized title and detail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from audit import Actor
from audit.errors import DomainError
from wartel import keys
from wartel.auth.principal import Principal
from wartel.config import Settings
from wartel.db import DatabaseUnavailable, acquire, in_transaction
from wartel.http import middlewares
from wartel.http.cost import heavy_connection
from wartel.http.endpoints import validation_problem
from wartel.http.problems import CONSTRAINT_PROBLEMS, STATUS_BY_KIND, Problem
from wartel.i18n import DEFAULT_LANGUAGE, catalogue, t
from wartel.pages.templating import render_template
from wartel.scope import Scope, build_scope
from wartel.usecases import directory

log = structlog.get_logger("wartel.pages")

PageHandler = Callable[[web.Request, "PageCtx"], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class NavItem:
    key: str  # locale key of the label
    path: str
    roles: frozenset[str]


# Each page module adds its entries when it is set up, so the menu only lists pages that exist.
NAV: list[NavItem] = []


def add_nav(key: str, path: str, roles: tuple[str, ...]) -> None:
    if not any(n.path == path for n in NAV):
        NAV.append(NavItem(key, path, frozenset(roles)))


@dataclass
class PageCtx:
    request: web.Request
    user: Principal
    conn: asyncpg.Connection
    settings: Settings
    language: str
    request_id: str
    scope: Scope
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return self.user.actor(self.request_id)

    def t(self, key: str, default: str | None = None, **values: object) -> str:
        return t(self.language, key, default, **values)

    @property
    def viewer_tz(self) -> str:
        """The zone this person reads times in (their facility's or region's; WIB nationally)."""
        return str(self.extra.get("viewer_tz", "Asia/Jakarta"))

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        context.setdefault("viewer_tz", self.viewer_tz)
        if self.request.method == "POST":
            # Drawn in answer to a post (a refusal, input kept): the page's own address, which for most forms
            # is the address they post to; an action's page passes its own (see render_page).
            context.setdefault("canonical_url", self.request.path_qs)
        return render_page(self.request, template, status=status, user=self.user, **context)


def render_page(req: web.Request, template: str, *, status: int = 200, user: Principal | None = None,
                **context: Any) -> web.Response:
    lang = req.get(keys.LANGUAGE, "id")
    nav = [n for n in NAV if user is not None and user.role in n.roles]
    # The menu marks the most specific entry: /officer/book is "book", not also "board" (/officer).
    matching = [n.path for n in nav if req.path == n.path or req.path.startswith(n.path + "/")]
    context.setdefault("current_nav", max(matching, key=len) if matching else None)
    context.setdefault("message", None)
    context.setdefault("error", None)
    context.setdefault("viewer_tz", "Asia/Jakarta")
    # A page drawn in answer to a post (a refusal, input kept) names its own address: the script puts it in
    # the address bar, so a refresh or the live update asks for the page, never for the post's address.
    context.setdefault("canonical_url", None)
    html = render_template(template, lang, user=user, nav=nav, path=req.path,
                           csrf_token=user.csrf_token if user else "", request_id=req.get(keys.REQUEST_ID, ""),
                           query_string=req.query_string, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=_SECURITY_HEADERS)


# Pages load only our own CSS and JS; nothing inline runs, nothing may frame us.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def login_redirect(req: web.Request) -> web.HTTPFound:
    return web.HTTPFound("/login?" + urlencode({"next": req.path_qs}))


def redirect(path: str, **query: Any) -> web.HTTPSeeOther:
    """After a form post: see-other to a page, with a message key in the query (post/redirect/get)."""
    qs = urlencode({k: v for k, v in query.items() if v is not None})
    return web.HTTPSeeOther(path + ("?" + qs if qs else ""))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never redirect a login to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def page(*roles: str, write: bool = False,
         heavy: bool = False) -> Callable[[PageHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Require a logged-in user with one of ``roles`` (from :data:`wartel.scope.ROLES`, as the API's); give
    the handler a connection and the request's :class:`Scope` (a transaction if ``write``, so a change and
    its audit record commit together, run again after a deadlock exactly as an API call is; from the heavy
    pool if ``heavy``: reports, searches and link views, see :mod:`wartel.http.cost`)."""

    def wrap(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def view(req: web.Request) -> web.StreamResponse:
            user: Principal | None = req.get(keys.PRINCIPAL)
            if user is None or user.via != "session":
                if req.method == "GET":
                    raise login_redirect(req)
                raise Problem(401, "unauthenticated", "log in first")
            if roles and user.role not in roles:
                raise Problem(403, "forbidden_role", f"the {user.role} role may not open this page")
            settings = req.app[keys.SETTINGS]
            checkout = (heavy_connection(req) if heavy
                        else acquire(req.app[keys.POOL], settings.db_acquire_timeout_s))
            async with checkout as conn:
                pc = PageCtx(request=req, user=user, conn=conn, settings=settings,
                             language=req.get(keys.LANGUAGE, "id"), request_id=req.get(keys.REQUEST_ID, "-"),
                             scope=await build_scope(conn, user))
                pc.extra["viewer_tz"] = await directory.viewer_time_zone(conn, pc.scope)

                async def body() -> web.StreamResponse | web.HTTPRedirection:
                    try:
                        return await handler(req, pc)
                    except web.HTTPRedirection as done:
                        # Post/redirect/get: a redirect is success, so the transaction commits first.
                        return done

                outcome = await in_transaction(conn, body, write=write)
            if isinstance(outcome, web.HTTPRedirection):
                raise outcome
            return outcome

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        view.roles = frozenset(roles)  # type: ignore[attr-defined]  # read by the page authorisation matrix
        return view

    return wrap


def _has_text(lang: str, key: str) -> bool:
    texts = catalogue()
    return key in texts.get(lang, {}) or key in texts[DEFAULT_LANGUAGE]


def field_label(lang: str, field_name: str, labels: str | None = None) -> str:
    """The label a form shows for ``field_name``: the page's own (``labels`` + name), else the shared one."""
    for key in ((labels + field_name) if labels else None, f"page.field.{field_name}"):
        if key and _has_text(lang, key):
            return t(lang, key)
    return field_name


def refusal(lang: str, exc: BaseException, *, labels: str | None = None) -> dict[str, Any] | None:
    """A refusal to show on a page, in the page's language: ``{title, detail, field, code, status}``.

    Domain errors, problems, constraint violations (never with the constraint's name), values PostgreSQL
    cannot hold and form values the shared request models refuse; ``None`` for anything else. The detail
    is the page's text for the code, else (on an English page) the domain's English detail, else a pointer to
    the field in the page's language: an Indonesian page never shows the API's English detail.
    """
    status: int
    field_name: str | None
    # The domain's own detail is written in English: shown as it is on an English page only.
    english: str | None = None
    if isinstance(exc, Problem):
        status, code, field_name, english = exc.status, exc.code, exc.field, exc.detail
    elif isinstance(exc, DomainError):
        status, code, field_name = STATUS_BY_KIND.get(exc.problem_kind, 409), exc.code, exc.field
        english = exc.detail
    elif isinstance(exc, ValidationError):
        p = validation_problem(exc)
        status, code, field_name = p.status, p.code, p.field
    elif isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        code, status, field_name = CONSTRAINT_PROBLEMS.get(getattr(exc, "constraint_name", None) or "",
                                                           ("constraint_violation", 409, None))
    elif isinstance(exc, asyncpg.DataError):
        status, code, field_name = 422, "invalid_value", None
    else:
        return None
    title = t(lang, f"problem.{code}", t(lang, "page.error"))
    if _has_text(lang, f"problem_detail.{code}"):
        detail: str | None = t(lang, f"problem_detail.{code}")
    elif lang == "en" and english:
        detail = english
    elif field_name and status in (400, 422):  # bad input: point at the field; otherwise the title says it
        detail = t(lang, "page.check_field", field=field_label(lang, field_name, labels))
    else:
        detail = None
    return {"title": title, "detail": detail, "field": field_name, "code": code, "status": status}


# What a page action may refuse with and still draw its page again (form kept): everything refusal() knows.
REFUSALS = (DomainError, Problem, ValidationError, asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


async def attempt(pc: PageCtx, step: Callable[[], Awaitable[Any]], *,
                  labels: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """Run ``step`` in a savepoint; a refusal rolls back only that step and comes back as a displayable
    error (see :func:`refusal`), not an exception, so the page is drawn again with what the user typed."""
    try:
        async with pc.conn.transaction():
            return await step(), None
    except REFUSALS as exc:
        return None, refusal(pc.language, exc, labels=labels)


_NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/static/")


def _is_page(req: web.Request) -> bool:
    return not req.path.startswith(_NOT_PAGES)


@web.middleware
async def page_errors(req: web.Request, handler: Handler) -> web.StreamResponse:
    """On page routes, errors become readable pages in the user's language rather than problem+json."""
    if not _is_page(req):
        return await handler(req)
    try:
        return await handler(req)
    except Exception as exc:
        page = _error_page(req, exc)
        if page is None:
            raise
        return page


def _error_page(req: web.Request, exc: Exception) -> web.Response | None:
    # Read after the handler ran: authentication sets the session's language and user on the way in.
    lang = req.get(keys.LANGUAGE, "id")
    user = req.get(keys.PRINCIPAL)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        status, code = exc.status, f"http_{exc.status}"
        title, detail = t(lang, "page.not_found" if exc.status == 404 else "page.error", exc.reason), None
    elif isinstance(exc, DatabaseUnavailable):
        status, code = 503, "database_unavailable"
        title, detail = t(lang, "problem.database_unavailable", "database unavailable"), t(lang, "page.retry")
    elif isinstance(exc, (TimeoutError, asyncpg.QueryCanceledError)):
        status, code = 503, "timeout"
        title, detail = t(lang, "problem.timeout", "the request took too long"), t(lang, "page.retry")
    else:
        shown = refusal(lang, exc)
        if shown is None:
            return None
        status, code, title, detail = shown["status"], shown["code"], shown["title"], shown["detail"]
        if code == "csrf_failed":
            detail = t(lang, "page.csrf_failed")
    page = render_page(req, "error.html", status=status, user=user, title=title, detail=detail, code=code)
    if status in (429, 503):  # a busy heavy pool or a timeout: tell the browser when to try again
        page.headers["Retry-After"] = getattr(exc, "headers", {}).get("Retry-After", "5")
    return page


def install(app: web.Application) -> None:
    """Insert the page error middleware inside the problem middleware, before authentication, so a CSRF or
    login failure on a page is a page too."""
    position = list(app.middlewares).index(middlewares.authenticate)
    app.middlewares.insert(position, page_errors)


def url_quote(value: str) -> str:
    return quote(value, safe="")
