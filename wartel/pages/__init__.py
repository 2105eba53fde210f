"""Server-rendered pages for officers, security staff and the regional office (aiohttp + Jinja2).

Kept import-light: the page modules are imported inside :func:`setup_pages`, so importing
``wartel.pages.templating`` (the printable report does) does not drag in every page handler.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent.parent / "static"


def setup_pages(app: web.Application) -> None:
    # Imported here, not at the top: importing wartel.pages.templating (the printable report does) must not
    # drag in every page handler.
    from wartel.pages import api_docs, framework, officer, policies, privacy, regional, security, session

    framework.install(app)
    for module in (session, officer, security, regional, policies, privacy):
        if hasattr(module, "setup"):
            module.setup()
        app.router.add_routes(module.routes)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    api_docs.setup(app)
