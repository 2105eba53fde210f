"""The OpenAPI 3.1 document, generated from the endpoint table and its pydantic models."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from wartel import __version__
from wartel.http.endpoints import Endpoint
from wartel.http.models import state_bigint_bounds

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable and machine-readable; `field` names the input.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "code": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "code"],
}


def _schema(tp: Any, components: dict[str, Any], mode: str) -> dict[str, Any]:
    adapter = TypeAdapter(tp)
    schema = adapter.json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and "properties" in schema:
        # OpenAPI component names allow [A-Za-z0-9._-] only: Page[InmateOut] becomes Page_InmateOut_.
        name = re.sub(r"[^A-Za-z0-9._-]", "_", tp.__name__)
        components.setdefault(name, schema)
        return {"$ref": _REF.format(model=name)}
    return schema


def _annotated(f: FieldInfo) -> Any:
    """A field's type with its constraints (pydantic keeps a required field's Annotated metadata apart)."""
    return Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation


def _params(ep: Endpoint, components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    path_fields = ep.path_model.model_fields if ep.path_model else {}
    for name in _PARAM.findall(ep.path):
        schema: dict[str, Any] = {"type": "string"}
        if name in path_fields:
            schema = TypeAdapter(_annotated(path_fields[name])).json_schema()
            state_bigint_bounds({"properties": {name: schema}})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if ep.query is not None:
        for name, f in ep.query.model_fields.items():
            schema = TypeAdapter(_annotated(f)).json_schema(ref_template=_REF)
            schema.pop("$defs", None)
            state_bigint_bounds({"properties": {name: schema}})
            param: dict[str, Any] = {"name": f.alias or name, "in": "query", "required": f.is_required(),
                                     "schema": schema}
            if f.description:
                param["description"] = f.description
            params.append(param)
    params.append({"name": "lang", "in": "query", "required": False,
                   "description": "Language of titles and texts: id (Bahasa Indonesia, the default) or en.",
                   "schema": {"type": "string", "enum": ["id", "en"]}})
    if ep.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "A retried request with the same key returns the first response.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    return params


def _singular(segment: str) -> str:
    word = segment.replace("-", "_")
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") else word


def _links(source: Endpoint, endpoints: list[Endpoint]) -> dict[str, Any]:
    """OpenAPI links from a create to every operation whose path ids it answers (for stateful clients and
    for schemathesis' stateful phase): ``inmate_id`` from the response's ``inmate_id`` or, for
    ``POST /inmates``, its ``id``; ids the create was addressed with pass through from its own path."""
    model = source.response
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return {}
    fields = set(model.model_fields)
    own_params = set(_PARAM.findall(source.path))
    static = [seg for seg in source.path.split("/") if seg and not seg.startswith("{")]
    created = f"{_singular(static[-1])}_id" if static else ""
    links: dict[str, Any] = {}
    for target in endpoints:
        params = _PARAM.findall(target.path)
        if target is source or not params or "text/event-stream" in (target.response_content or {}):
            continue  # a stream is no step to chain: it answers for as long as the client listens
        mapping: dict[str, str] = {}
        for name in params:
            if name in fields:
                mapping[name] = f"$response.body#/{name}"
            elif name == created and "id" in fields:
                mapping[name] = "$response.body#/id"
            elif name in own_params:
                mapping[name] = f"$request.path.{name}"
        if len(mapping) == len(params) and any(v.startswith("$response") for v in mapping.values()):
            links[target.operation_id] = {"operationId": target.operation_id, "parameters": mapping}
    return links


def build_openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for ep in sorted(endpoints, key=lambda e: (e.path, e.method)):
        op: dict[str, Any] = {"operationId": ep.operation_id, "summary": ep.summary, "tags": list(ep.tags)}
        doc = ep.description or (ep.handler.__doc__ or "").strip()
        if doc:
            op["description"] = doc
        if ep.roles is not None and ep.auth == "user":
            op["description"] = (op.get("description", "") + f"\n\nRoles: {', '.join(sorted(ep.roles))}.").strip()
        params = _params(ep, components)
        if params:
            op["parameters"] = params
        if ep.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema(ep.body, components, "validation")}}}
        elif ep.request_content:
            op["requestBody"] = {"required": True, "content": ep.request_content}
        responses: dict[str, Any] = {}
        if ep.response_content:
            responses[str(ep.status)] = {"description": "OK", "content": ep.response_content}
        elif ep.response is not None:
            responses[str(ep.status)] = {"description": "OK", "content": {
                "application/json": {"schema": _schema(ep.response, components, "serialization")}}}
            links = _links(ep, endpoints) if ep.method == "POST" and ep.status == 201 else {}
            if links:
                responses[str(ep.status)]["links"] = links
        else:
            responses[str(ep.status if ep.status != 200 else 204)] = {"description": "Done"}
        problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        codes = set(ep.errors)
        if ep.body is not None or ep.query is not None or ep.path_model is not None:
            codes |= {400, 422}
        if ep.body is not None:
            codes |= {413, 415}
        if ep.auth != "none":
            codes |= {401}
        if ep.auth == "user" and ep.roles is not None:
            codes |= {403}
        if ep.db:
            codes |= {503}
        if ep.cost == "heavy":
            codes |= {429}
            op["description"] = (op.get("description", "") + "\n\nHeavy request: its own small connection pool and "
                                 "statement budget; one at a time per caller (429), 503 with Retry-After when all "
                                 "heavy connections are busy.").strip()
        op["x-request-class"] = ep.cost
        for code in sorted(codes):
            responses[str(code)] = {"description": "Problem", **problem}
        op["responses"] = responses
        if ep.auth == "user":
            # A cookie session changes nothing without its CSRF token in a header: say so on every write.
            unsafe = ep.method.upper() in ("POST", "PUT", "PATCH", "DELETE")
            op["security"] = [{"bearer": []}, {"session": [], "csrf": []} if unsafe else {"session": []}]
        elif ep.auth == "device":
            op["security"] = [{"device": []}]
        else:
            op["security"] = []
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Wartel API", "version": __version__,
                 "description": "Call rights, booth booking, supervised calls, audit log and compliance "
                                "reports for Wartelsuspas kiosks."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API token (wtl_…)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "wartel_session",
                            "description": "Browser session from POST /api/v1/auth/login (or the login page). "
                                           "Every POST, PUT, PATCH and DELETE sent with this cookie must also "
                                           "carry the session's CSRF token in the X-CSRF-Token header (the "
                                           "login answer and GET /api/v1/auth/me return it as csrf_token); "
                                           "without it the answer is 403 csrf_failed. Bearer tokens need no "
                                           "CSRF token."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "The session's CSRF token (csrf_token from POST /api/v1/auth/login or "
                                        "GET /api/v1/auth/me); required with the session cookie on writes."},
                "device": {"type": "http", "scheme": "bearer", "description": "Booth terminal device token"},
            },
        },
    }
