"""The API reference page and what the OpenAPI document says about signing in."""

from __future__ import annotations

import re
from pathlib import Path


async def test_the_reference_page_serves_swagger_ui_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/api/docs")
    assert r.status == 200, await r.text()
    html = await r.text()
    assert r.content_type == "text/html"
    # Nothing from another site: every script and stylesheet is ours.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    for source in sources:
        asset = await client.get(source)
        assert asset.status == 200, source
    bundle = await (await client.get("/api/docs/assets/swagger-ui-bundle.js")).text()
    assert '"5.' in bundle  # Swagger UI 5: reads OpenAPI 3.1
    assert "SwaggerUIBundle" in await (await client.get("/static/api-docs.js")).text()


async def test_the_document_names_the_auth_schemes_and_the_csrf_header(client) -> None:  # type: ignore[no-untyped-def]
    doc = await (await client.get("/api/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) >= {"bearer", "session", "device", "csrf"}
    assert schemes["csrf"] == {**schemes["csrf"], "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    assert "X-CSRF-Token" in schemes["session"]["description"]
    # A write with the cookie needs the header; a read does not; a bearer token never does.
    book = doc["paths"]["/api/v1/bookings"]["post"]["security"]
    assert {"bearer": []} in book and {"session": [], "csrf": []} in book
    me = doc["paths"]["/api/v1/auth/me"]["get"]["security"]
    assert {"session": []} in me


def test_the_readme_documents_the_csrf_header_and_the_reference_page() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "X-CSRF-Token" in readme and "/api/docs" in readme
