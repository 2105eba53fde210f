"""The API reference page: Swagger UI over the generated OpenAPI document, with Swagger UI's files served
from the ``openapi-ui-bundles`` package (no CDN: kiosks and offices may have no outside network).

The page itself is English, as the API's field names and the document are; anyone may open it, as anyone
may read ``/api/openapi.json``.
"""

from __future__ import annotations

from aiohttp import web
from openapi_ui_bundles import swagger_ui

routes = web.RouteTableDef()

ASSETS = "/api/docs/assets/"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wartel API reference</title>
<link rel="stylesheet" href="{ASSETS}swagger-ui.css">
<script src="{ASSETS}swagger-ui-bundle.js" defer></script>
<script src="/static/api-docs.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi="/api/openapi.json"></div>
</body>
</html>
"""

# Only our own files run; Swagger UI sets inline style attributes as it draws, so styles may be inline.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@routes.get("/api/docs", name="page_api_docs")
async def api_docs(req: web.Request) -> web.StreamResponse:
    """Swagger UI reading /api/openapi.json."""
    return web.Response(text=_PAGE, content_type="text/html", charset="utf-8", headers=_HEADERS)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static(ASSETS, swagger_ui.static_path, name="api_docs_assets", append_version=False)
