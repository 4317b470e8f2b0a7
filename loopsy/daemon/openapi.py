"""The OpenAPI 3.1 document, built from the routes' :class:`EndpointSpec` and models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from loopsy import __version__
from loopsy.daemon.endpoints import ApiRoute, ApiWebSocketRoute, EndpointSpec

_PATH_CONVERTER = re.compile(r"\{(\w+):\w+\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "hint": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def iter_specs(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, EndpointSpec]]:
    found: list[tuple[str, EndpointSpec]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(iter_specs(list(route.routes), prefix + route.path))
        elif isinstance(route, ApiRoute | ApiWebSocketRoute):
            found.append((_PATH_CONVERTER.sub(r"{\1}", prefix + route.spec.path), route.spec))
    return found


def openapi_document(app: Starlette) -> dict[str, Any]:
    specs = iter_specs(list(app.routes))
    models: set[type[BaseModel]] = set()
    for _, spec in specs:
        for model in (spec.body, spec.response):
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for path, spec in specs:
        operation: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{spec.method.lower()}_{path.strip('/').replace('/', '_')}",
            "responses": _responses(spec, refs),
        }
        if spec.description:
            operation["description"] = spec.description
        if spec.tags:
            operation["tags"] = list(spec.tags)
        if spec.public:
            operation["security"] = []
        parameters = _path_parameters(path)
        if spec.query is not None:
            parameters.extend(_query_parameters(spec.query))
        if parameters:
            operation["parameters"] = parameters
        if spec.body is not None:
            ref = refs[(spec.body, "validation")]
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref}},
            }
        elif spec.request_media:
            operation["requestBody"] = {
                "required": True,
                "content": {spec.request_media: {"schema": {"type": "string", "format": "binary"}}},
            }
        if spec.websocket:
            operation["x-websocket"] = True
        if spec.rate:
            operation["x-rate-limit-category"] = spec.rate
        if spec.callers != {"local", "key", "peer", "phone"}:
            operation["x-callers"] = sorted(spec.callers)
        paths.setdefault(path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loopsy daemon API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _responses(spec: EndpointSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    responses: dict[str, Any] = {}
    if spec.websocket:
        responses["101"] = {"description": "Switching protocols to WebSocket"}
    elif spec.response is not None:
        responses[str(spec.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": refs[(spec.response, "validation")]}},
        }
    elif spec.response_media:
        responses[str(spec.status)] = {
            "description": "OK",
            "content": {spec.response_media: {"schema": {"type": "string", "format": "binary"}}},
        }
    else:
        responses[str(spec.status)] = {"description": "OK"}
    responses["default"] = error
    return responses


def _path_parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            params.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
    return params


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]
