"""The daemon calling a paired peer's daemon (message delivery, acknowledgements): pinned
TLS and the credential that peer issued, as the client's peer connection does."""

from __future__ import annotations

from typing import Any

import httpx

from loopsy.mesh.health import base_url
from loopsy.protocol.errors import ApiError, Unavailable, api_error_from
from loopsy.protocol.peers import PeerEndpoint
from loopsy.protocol.tls_pin import pinned_context

CALL_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


async def peer_post(endpoint: PeerEndpoint, path: str, body: dict[str, Any]) -> Any:
    """POST JSON to ``/api/v1{path}`` on the peer; its answer as JSON, or its error raised."""
    try:
        async with httpx.AsyncClient(
            verify=pinned_context(endpoint.cert_pem), timeout=CALL_TIMEOUT
        ) as http:
            response = await http.post(
                base_url(endpoint.host, endpoint.port) + "/api/v1" + path,
                json=body,
                headers={"Authorization": f"Bearer {endpoint.credential}"},
            )
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"peer {endpoint.name} at {endpoint.host}:{endpoint.port} is unreachable "
            f"({type(exc).__name__})"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        error: ApiError = api_error_from(response.status_code, data)
        raise error
    return data
