"""Request id and summary line, authentication, CSRF, and the mapping of every error to problem+json."""

from __future__ import annotations

import re
import secrets
import time

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from audit.errors import DomainError
from schedules.kiosk import device_from_token
from wartel import keys
from wartel.audit_service import record_refused_change
from wartel.auth import credentials
from wartel.db import DatabaseUnavailable, acquire
from wartel.http.endpoints import validation_problem
from wartel.http.problems import CONSTRAINT_PROBLEMS, STATUS_BY_KIND, Problem, problem_response
from wartel.i18n import negotiate, t

log = structlog.get_logger("wartel.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER_S = "5"


def _wants_html(req: web.Request) -> bool:
    return not req.path.startswith("/api") and "text/html" in req.headers.get("Accept", "")


@web.middleware
async def request_context(req: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = req.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
    req[keys.REQUEST_ID] = request_id
    # Pages speak Bahasa Indonesia unless the user chose (?lang=, or the account's choice once logged in):
    # the browser's Accept-Language is no choice. The API honours it for integrators' problem titles.
    browser = req.headers.get("Accept-Language") if req.path.startswith("/api") else None
    req[keys.LANGUAGE] = negotiate(browser, req.query.get("lang"), req.app[keys.SETTINGS].default_language)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(req)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:
        # aiohttp answers a raised HTTPException (a page's 303 after a form post, a login redirect, the
        # router's 404) with the exception itself: it is that status, not a failure of ours.
        status = exc.status
        exc.headers["X-Request-ID"] = request_id
        raise
    finally:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        principal = req.get(keys.PRINCIPAL)
        route = req.match_info.route.resource.canonical if req.match_info.route.resource else "unmatched"
        metrics = req.app.get(keys.METRICS)
        if metrics is not None:
            metrics.observe_request(req.method, route, status, elapsed_ms / 1000)
        log.info("request", method=req.method, path=route, status=status, ms=elapsed_ms,
                 user=principal.user_id if principal else None)


@web.middleware
async def authenticate(req: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the principal from a bearer token or the session cookie; enforce CSRF for cookie sessions."""
    auth = req.headers.get("Authorization", "")
    cookie = req.cookies.get(credentials.SESSION_COOKIE)
    if not auth and not cookie:
        return await handler(req)
    settings = req.app[keys.SETTINGS]
    async with acquire(req.app[keys.POOL], settings.db_acquire_timeout_s) as conn:
        await _identify(req, conn, auth, cookie)
        _check_csrf_header(req)
        # The endpoint reuses this connection (one pool checkout per request) unless it streams
        # (db=False: SSE) and must not pin a connection for its whole life.
        if getattr(req.match_info.handler, "uses_db", False):
            req[keys.CONN] = conn
            try:
                await _check_csrf_form(req)
                return await handler(req)
            finally:
                req.pop(keys.CONN, None)
    await _check_csrf_form(req)
    return await handler(req)


async def _identify(req: web.Request, conn: asyncpg.Connection, auth: str, cookie: str | None) -> None:
    """Find the principal (user via token or session) or the booth device behind the request."""
    if auth.startswith("Bearer "):
        token = auth[7:].strip()
        if token.startswith(credentials.TOKEN_PREFIX):
            req[keys.PRINCIPAL] = await credentials.principal_from_token(conn, token)
        else:
            device = await device_from_token(conn, token)
            if device is not None:
                req[keys.DEVICE] = device
        if req.get(keys.PRINCIPAL) is None and req.get(keys.DEVICE) is None:
            raise Problem(401, "invalid_token", "the bearer token is unknown, expired or revoked",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    elif cookie:
        principal = await credentials.principal_from_session(conn, cookie)
        if principal is not None:
            req[keys.PRINCIPAL] = principal
            if "lang" not in req.query:
                req[keys.LANGUAGE] = principal.language


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _needs_csrf(req: web.Request) -> bool:
    principal = req.get(keys.PRINCIPAL)
    return principal is not None and principal.via == "session" and req.method in _UNSAFE


def _csrf_matches(req: web.Request, sent: object) -> None:
    principal = req[keys.PRINCIPAL]
    # Compared as bytes: compare_digest refuses str with non-ASCII characters, and a forged token may have them.
    if not sent or not secrets.compare_digest(str(sent).encode(), (principal.csrf_token or "").encode()):
        raise Problem(403, "csrf_failed", "the form's CSRF token is missing or wrong; reload the page",
                      field="csrf_token")


def _check_csrf_header(req: web.Request) -> None:
    """Cookie sessions must prove the request came from our own page: header, or form field (below)."""
    if _needs_csrf(req) and (req.headers.get("X-CSRF-Token") is not None or req.content_type not in _FORMS):
        _csrf_matches(req, req.headers.get("X-CSRF-Token"))


async def _check_csrf_form(req: web.Request) -> None:
    # Reading a form body may wait on a slow client: done after the connection question is settled
    # for streams, and bounded by the server's read timeouts.
    if _needs_csrf(req) and req.headers.get("X-CSRF-Token") is None and req.content_type in _FORMS:
        _csrf_matches(req, (await req.post()).get("csrf_token"))


def _lang(req: web.Request) -> str:
    # Read when the error is mapped, not on the way in: authentication sets the session's language inside.
    return req.get(keys.LANGUAGE, "id")


def _title(lang: str, code: str, fallback: str) -> str:
    return t(lang, f"problem.{code}", fallback)


@web.middleware
async def problems(req: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as RFC 9457 problem+json with a stable code; never a bare 500 for input."""
    try:
        return await handler(req)
    except Problem as exc:
        return problem_response(exc.status, exc.code, _title(_lang(req), exc.code, exc.code.replace("_", " ")),
                                detail=exc.detail, field=exc.field, headers=exc.headers, **exc.extra)
    except ValidationError as exc:
        p = validation_problem(exc)
        return problem_response(p.status, p.code, _title(_lang(req), p.code, "invalid input"), detail=p.detail,
                                field=p.field, **p.extra)
    except web.HTTPException as exc:
        if exc.status < 400 or (_wants_html(req) and exc.status in (404, 405)):
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
                415: "unsupported_media_type"}.get(exc.status, f"http_{exc.status}")
        return problem_response(exc.status, code, _title(_lang(req), code, exc.reason), detail=exc.text
                                if exc.status != 404 else None,
                                field={413: "body", 415: "Content-Type"}.get(exc.status),
                                headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    except DatabaseUnavailable:
        return problem_response(503, "database_unavailable",
                                _title(_lang(req), "database_unavailable", "database unavailable, retry shortly"),
                                headers={"Retry-After": RETRY_AFTER_S})
    except asyncpg.DataError as exc:
        # A value the request schema allowed but PostgreSQL cannot hold (an id beyond bigint, an unknown
        # time zone name): bad input, so a 422, and the transaction has rolled back.
        log.warning("database refused an input value", error=type(exc).__name__)
        return problem_response(422, "invalid_value", _title(_lang(req), "invalid_value", "invalid value"),
                                detail="a value in the request is out of the range the service can store")
    except asyncpg.IntegrityConstraintViolationError as exc:
        name = getattr(exc, "constraint_name", None)
        code, status, field = CONSTRAINT_PROBLEMS.get(name or "", ("constraint_violation", 409, None))
        return problem_response(status, code, _title(_lang(req), code, code.replace("_", " ")),
                                detail=exc.message if code == "constraint_violation" else None, field=field,
                                constraint=name)
    except asyncpg.InsufficientPrivilegeError as exc:
        log.error("database refused a privileged change", error=str(exc))
        await record_refused_change(req.app[keys.POOL], req.get(keys.PRINCIPAL), req.get(keys.REQUEST_ID), exc,
                                    method=req.method, route=req.path)
        return problem_response(403, "forbidden_change", _title(_lang(req), "forbidden_change", "change refused"))
    except asyncpg.TransactionRollbackError:
        return problem_response(503, "retry_transaction",
                                _title(_lang(req), "retry_transaction", "a conflicting change won; retry"),
                                headers={"Retry-After": "1"})
    except (TimeoutError, asyncpg.QueryCanceledError):
        return problem_response(503, "timeout", _title(_lang(req), "timeout", "the request took too long"),
                                headers={"Retry-After": RETRY_AFTER_S})
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError,
            asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError) as exc:
        log.warning("database connection lost", error=type(exc).__name__)
        return problem_response(503, "database_unavailable",
                                _title(_lang(req), "database_unavailable", "database unavailable, retry shortly"),
                                headers={"Retry-After": RETRY_AFTER_S})
    except DomainError as exc:
        status = STATUS_BY_KIND.get(exc.problem_kind, 409)
        return problem_response(status, exc.code, _title(_lang(req), exc.code, exc.code.replace("_", " ")),
                                detail=exc.detail, field=exc.field, **exc.extra)
    except Exception:
        log.exception("unhandled error")
        return problem_response(500, "internal_error", _title(_lang(req), "internal_error", "internal error"),
                                detail=f"quote request id {req.get(keys.REQUEST_ID)} when reporting this")


@web.middleware
async def credentials_throttled(req: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(req)
    except credentials.LoginThrottled as exc:
        raise Problem(429, "login_throttled", "too many failed logins; wait and try again",
                      headers={"Retry-After": str(exc.retry_after_s)}) from exc
