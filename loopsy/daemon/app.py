"""The app factory: one ASGI app for every transport (unix socket, TCP, relay tunnel).

Middleware, outermost first: audit (every request gets a line) → auth (caller or 401/403)
→ the router with the error handlers. Each transport wraps the app in :class:`Tagged` so
auth knows how the request arrived.
"""

from __future__ import annotations

import contextlib
import logging
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from loopsy.daemon.audit import AuditMiddleware
from loopsy.daemon.auth import TRANSPORT_KEY, AuthMiddleware, Transport
from loopsy.daemon.routes import (
    agents,
    apikey,
    approvals,
    audit,
    context,
    events,
    execute,
    files,
    health,
    messages,
    pairing,
    peers,
    phones,
    sessions,
)
from loopsy.daemon.services import Services
from loopsy.protocol.errors import (
    ApiError,
    BadRequest,
    Conflict,
    InternalError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)

log = logging.getLogger("loopsy.daemon")

API_PREFIX = "/api/v1"
PUBLIC_PATHS = (
    f"{API_PREFIX}/health",
    # the mesh: who answers, and pairing (only on the peer listener; secrets travel sealed)
    f"{API_PREFIX}/mesh/hello",
    *(f"{API_PREFIX}/pair/{step}" for step in ("commit", "reveal", "finish", "abort")),
)
ROUTE_MODULES: tuple[ModuleType, ...] = (
    health,
    context,
    files,
    audit,
    pairing,
    peers,
    messages,
    phones,
    sessions,
    agents,
    approvals,
    events,
    execute,
    apikey,
)


def error_response(exc: ApiError) -> Response:
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)


async def _api_error(request: Request | WebSocket, exc: Exception) -> Response | None:
    assert isinstance(exc, ApiError)
    if isinstance(request, WebSocket):
        await _close_websocket(request, exc)
        return None
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    cls: type[ApiError] = {
        404: NotFound,
        405: BadRequest,
        409: Conflict,
        413: PayloadTooLarge,
    }.get(exc.status_code, BadRequest)
    message = "no such route" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    response = error_response(cls(message))
    response.status_code = exc.status_code
    return response


async def _unexpected(request: Request | WebSocket, exc: Exception) -> Response | None:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if isinstance(request, WebSocket):
        await _close_websocket(request, InternalError("internal error"))
        return None
    return error_response(InternalError("internal error; see logs/daemon.log"))


async def _close_websocket(websocket: WebSocket, exc: ApiError) -> None:
    if websocket.client_state == WebSocketState.CONNECTING and (
        "websocket.http.response" in websocket.scope.get("extensions", {})
    ):
        # Refused before accept: answer the handshake with the HTTP error itself (status,
        # JSON body, Retry-After) where the server can, so a client sees 429, not a bare 403.
        websocket.scope["loopsy.refused"] = exc.status
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.send_denial_response(error_response(exc))
        return
    # 4000 + HTTP status: a close code a client can map back to the error class.
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])


def create_app(services: Services) -> Starlette:
    routes = [route for module in ROUTE_MODULES for route in module.routes]
    handlers: dict[Any, Any] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    app = Starlette(routes=[Mount(API_PREFIX, routes=routes)], exception_handlers=handlers)
    app.state.services = services
    app.add_middleware(
        AuthMiddleware,
        authenticator=services.auth,
        public_paths=PUBLIC_PATHS,
        error_response=error_response,
    )
    app.add_middleware(AuditMiddleware, audit=services.audit, clock=services.clock)
    return app


class Tagged:
    """Marks every request with the transport it came by (``unix``, ``tcp``, ``relay``)."""

    def __init__(self, app: ASGIApp, transport: Transport) -> None:
        self.app = app
        self.transport = transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, TRANSPORT_KEY: self.transport}
        await self.app(scope, receive, send)
