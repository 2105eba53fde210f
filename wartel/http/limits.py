"""Bounds on what one client can make the server hold: the size of a body and the time to send it.

A client that declares a body larger than any upload may be is refused before a byte is read. A client
that sends its body slowly (slowloris on the body) is cut off after ``request_timeout_s`` with a 408,
before any handler has taken a database connection. Slow headers are bounded by the HTTP server's keep-alive
timeout, which ``wartel serve`` sets to the same value.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from wartel import keys
from wartel.http.problems import Problem


def _too_slow() -> Problem:
    return Problem(408, "body_timeout", "the request body did not arrive in time", field="body",
                   headers={"Connection": "close"})


@web.middleware
async def bounded_body(req: web.Request, handler: Handler) -> web.StreamResponse:
    if not req.body_exists:
        return await handler(req)
    settings = req.app[keys.SETTINGS]
    declared = req.content_length
    if declared is not None and declared > settings.max_upload_bytes:
        raise Problem(413, "body_too_large", f"a request body may be at most {settings.max_upload_bytes} bytes",
                      field="body", headers={"Connection": "close"})
    if req.content_type.startswith("multipart/"):
        # A multipart upload is read as a stream by its handler: bound the whole handler instead.
        try:
            async with asyncio.timeout(settings.request_timeout_s):
                return await handler(req)
        except TimeoutError as exc:
            if not req.content.at_eof():
                raise _too_slow() from exc
            raise
    try:
        async with asyncio.timeout(settings.request_timeout_s):
            await req.read()  # kept by aiohttp: the handler's read()/json()/post() get these bytes
    except TimeoutError as exc:
        raise _too_slow() from exc
    return await handler(req)
