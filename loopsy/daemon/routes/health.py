"""Health (the only open route), status, and the OpenAPI document."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from loopsy import __version__
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.protocol.status import Health, Listener, Status


@endpoint("GET", "/health", summary="Is a Loopsy daemon here?", response=Health, public=True)
async def health(call: Call[None, None]) -> Health:
    """Open to anyone who can reach the port; says nothing but the service and version."""
    return Health(version=__version__)


@endpoint("GET", "/status", summary="Daemon status", response=Status)
async def status(call: Call[None, None]) -> Status:
    """Process id, version, node identity, listeners, uptime."""
    s = call.services
    listen = s.listening
    listeners = []
    if listen.unix_path:
        listeners.append(Listener(kind="unix", address=listen.unix_path))
    if listen.tcp_port:
        listeners.append(Listener(kind="tcp", address=f"{listen.tcp_host}:{listen.tcp_port}"))
    if s.mesh is not None and s.mesh.listening:  # the peer TLS listener (--lan)
        listeners.append(Listener(kind="mesh", address=f"{s.mesh.host}:{s.mesh.port}"))
    config = s.config.current
    return Status(
        version=__version__,
        pid=s.pid,
        node_id=config.node.id,
        node_name=config.node.name,
        started_at=s.started_at,
        uptime=max(0.0, s.clock() - s.started_at),
        listeners=listeners,
        lan=listen.lan,
        home=str(s.home.root),
    )


@endpoint("GET", "/openapi.json", summary="This API, as an OpenAPI 3.1 document")
async def openapi(call: Call[None, None]) -> Response:
    from loopsy.daemon.openapi import openapi_document

    return JSONResponse(openapi_document(call.request.app))


routes = [health, status, openapi]
