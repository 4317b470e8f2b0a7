"""How a daemon route is declared: one decorator that validates, authorises, rate-limits,
serialises, and describes the route for ``/openapi.json``.

    @endpoint("PUT", "/context/{key}", body=ContextPut, response=ContextEntry,
              rate="context", summary="Set a key")
    async def put_key(call: Call[ContextPut, None]) -> ContextEntry:
        ...

A handler gets a :class:`Call` (the parsed body and query, the authenticated caller, the
services) and returns a model, ``None`` (204) or a Starlette ``Response`` (for streams).
Errors are raised as :mod:`loopsy.protocol.errors` classes and rendered by ``app.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from loopsy.daemon.auth import Caller, caller_of
from loopsy.protocol.errors import BadRequest, Forbidden, PayloadTooLarge, ValidationFailed

if TYPE_CHECKING:
    from loopsy.daemon.services import Services

B = TypeVar("B", bound=BaseModel | None)
Q = TypeVar("Q", bound=BaseModel | None)

DEFAULT_MAX_BODY = 1 << 20
CallerKind = Literal["local", "key", "peer", "phone"]
ALL_CALLERS: frozenset[str] = frozenset({"local", "key", "peer", "phone"})


@dataclass(frozen=True)
class EndpointSpec:
    """What OpenAPI and the docs need to know about a route."""

    method: str
    path: str
    summary: str
    description: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    rate: str | None = None
    callers: frozenset[str] = ALL_CALLERS
    public: bool = False
    websocket: bool = False
    # raw request/response bodies (files), described by media type instead of a model
    request_media: str | None = None
    response_media: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class Call(Generic[B, Q]):
    request: Request
    body: B
    query: Q
    caller: Caller
    services: Services

    def path_param(self, name: str) -> str:
        """A path parameter, percent-decoded. Its bytes must be UTF-8: the path decoder makes
        anything else U+FFFD, and two different invalid names would then be one (422)."""
        value = str(self.request.path_params[name])
        if "\ufffd" in value:
            raw = self.request.scope.get("raw_path") or self.request.url.path.encode()
            try:
                unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed(
                    f"the {name} in the path is not valid UTF-8",
                    hint="percent-encode the UTF-8 bytes of the text",
                ) from None
        return value


class ApiRoute(Route):
    spec: EndpointSpec


class ApiWebSocketRoute(WebSocketRoute):
    spec: EndpointSpec


Handler = Callable[[Call[Any, Any]], Awaitable[BaseModel | Response | None]]


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    rate: str | None = None,
    callers: Collection[str] = ALL_CALLERS,
    public: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    request_media: str | None = None,
    response_media: str | None = None,
    tags: tuple[str, ...] = (),
) -> Callable[[Handler], ApiRoute]:
    """Declare an HTTP route under ``/api/v1`` (``path`` is relative to it)."""

    def decorate(handler: Handler) -> ApiRoute:
        spec = EndpointSpec(
            method=method.upper(),
            path=path,
            summary=summary,
            description=(handler.__doc__ or "").strip(),
            body=body,
            query=query,
            response=response,
            status=status,
            rate=rate,
            callers=frozenset(callers),
            public=public,
            request_media=request_media,
            response_media=response_media,
            tags=tags,
        )

        async def asgi_handler(request: Request) -> Response:
            services: Services = request.app.state.services
            caller = caller_of(request.scope)
            if not spec.public:
                check_caller(spec, caller)
            if spec.rate is not None:
                services.limiter.hit(caller, spec.rate)
            parsed_query = parse_query(query, request) if query is not None else None
            parsed_body = await parse_body(body, request, max_body) if body is not None else None
            result = await handler(Call(request, parsed_body, parsed_query, caller, services))
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status_code=204)
            return JSONResponse(result.model_dump(mode="json"), status_code=status)

        route = ApiRoute(path, asgi_handler, methods=[spec.method], name=handler.__name__)
        route.spec = spec
        return route

    return decorate


WsHandler = Callable[[WebSocket, Caller, "Services"], Awaitable[None]]


def websocket_endpoint(
    path: str,
    *,
    summary: str,
    rate: str | None = None,
    callers: Collection[str] = ALL_CALLERS,
    tags: tuple[str, ...] = (),
) -> Callable[[WsHandler], ApiWebSocketRoute]:
    """Declare a WebSocket route; caller checks and rate limits run before ``accept``."""

    def decorate(handler: WsHandler) -> ApiWebSocketRoute:
        spec = EndpointSpec(
            method="GET",
            path=path,
            summary=summary,
            description=(handler.__doc__ or "").strip(),
            rate=rate,
            callers=frozenset(callers),
            websocket=True,
            tags=tags,
        )

        async def asgi_handler(websocket: WebSocket) -> None:
            services: Services = websocket.app.state.services
            caller = caller_of(websocket.scope)
            check_caller(spec, caller)
            if spec.rate is not None:
                services.limiter.hit(caller, spec.rate)
            await handler(websocket, caller, services)

        route = ApiWebSocketRoute(path, asgi_handler, name=handler.__name__)
        route.spec = spec
        return route

    return decorate


def check_caller(spec: EndpointSpec, caller: Caller) -> None:
    if caller.kind not in spec.callers:
        raise Forbidden(
            f"{spec.method} {spec.path} is not available to {caller.kind} callers",
            hint="run this on the machine itself (the unix socket)"
            if spec.callers == {"local"}
            else None,
        )


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    raw: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        raw[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(
            f"invalid query: {describe_errors(exc)}", details={"errors": error_list(exc)}
        ) from None


async def read_body(request: Request, max_body: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_body:
                raise PayloadTooLarge(f"request body over {max_body} bytes")
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise PayloadTooLarge(f"request body over {max_body} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_body(model: type[BaseModel], request: Request, max_body: int) -> BaseModel:
    data = await read_body(request, max_body)
    if not data:
        data = b"{}"
    try:
        return model.model_validate_json(data, strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadRequest("request body is not valid JSON") from None
        raise ValidationFailed(
            f"invalid request: {describe_errors(exc)}", details={"errors": error_list(exc)}
        ) from None


def error_list(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
    ]


def describe_errors(exc: ValidationError) -> str:
    return "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in error_list(exc))
