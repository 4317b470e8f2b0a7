"""The daemon calling another daemon: a paired peer (message delivery, acknowledgements)
with pinned TLS and the credential that peer issued, as the client's peer connection does;
or, while pairing, a daemon nothing is pinned for yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopsy.mesh.health import base_url
from loopsy.protocol.errors import ApiError, Unavailable, api_error_from
from loopsy.protocol.peers import PeerEndpoint
from loopsy.protocol.tls_pin import der_fingerprint, pinned_context, unverified_context

# httpx (~5 MB resident with its dependencies) is imported by the calls that use it: the
# daemon imports this module at start, and a daemon with no peers never calls one.
if TYPE_CHECKING:
    import httpx

CALL_TIMEOUT = 10.0
CONNECT_TIMEOUT = 3.0


async def peer_post(endpoint: PeerEndpoint, path: str, body: dict[str, Any]) -> Any:
    """POST JSON to ``/api/v1{path}`` on the peer; its answer as JSON, or its error raised."""
    import httpx

    try:
        async with httpx.AsyncClient(
            verify=pinned_context(endpoint.cert_pem),
            timeout=httpx.Timeout(CALL_TIMEOUT, connect=CONNECT_TIMEOUT),
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


# -- before pairing: nothing is pinned yet (the pairing steps carry their own encryption)


def unpinned_http(host: str, port: int) -> httpx.AsyncClient:
    import httpx

    base = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return httpx.AsyncClient(
        base_url=f"{base}/api/v1",
        verify=unverified_context(),
        timeout=httpx.Timeout(15.0, connect=5.0),
    )


async def post_step(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    check: bool = True,
    limit: float | None = None,
) -> httpx.Response:
    import httpx

    try:
        response = await http.post(
            url, json=body, timeout=limit if limit is not None else httpx.USE_CLIENT_DEFAULT
        )
    except httpx.HTTPError as exc:
        if not check:
            return httpx.Response(599)
        where = f"{http.base_url.host}:{http.base_url.port}"
        if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version number" in str(exc):
            # Plain HTTP where the peer port speaks TLS: most likely the API port.
            raise Unavailable(
                f"{where} does not speak the peer protocol (TLS)",
                hint="give the other machine's peer port (mesh.port, 19533 by default; "
                "`loopsy pair` shows it there), not its API port",
            ) from None
        raise Unavailable(
            f"cannot reach {where}: {exc or type(exc).__name__}",
            hint="is `loopsy pair` running there, and was it started with --lan?",
        ) from None
    if check and response.status_code >= 400:
        try:
            body_json = response.json()
        except ValueError:
            body_json = None
        error = api_error_from(response.status_code, body_json)
        # said by the other daemon about itself: name it, so "this machine" is not ambiguous
        error.message = f"{http.base_url.host}:{http.base_url.port} says: {error.message}"
        raise error
    return response


def tls_fingerprint(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return der_fingerprint(der) if der else None
