"""The peer registry: list, add by address, remove (revokes at once), health, and the
endpoint this machine's own clients use to call a peer."""

from __future__ import annotations

from pydantic import ValidationError

from loopsy.config import DEFAULT_MESH_PORT
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.routes.pairing import mesh_of
from loopsy.mesh.health import base_url
from loopsy.protocol.errors import BadRequest, NotFound, Unavailable
from loopsy.protocol.peers import NodeHello, PeerAdd, PeerEndpoint, PeerInfo, PeerList, PeerQuery
from loopsy.protocol.tls_pin import unverified_context

OWNER = ("local", "key")
TAGS = ("peers",)


@endpoint(
    "GET",
    "/mesh/hello",
    summary="Who this node is (public, like its mDNS record)",
    response=NodeHello,
    public=True,
    tags=TAGS,
)
async def mesh_hello(call: Call[None, None]) -> NodeHello:
    """Node id, name, version, capabilities and the peer certificate's fingerprint."""
    mesh = mesh_of(call.services)
    if not mesh.listening:
        raise NotFound("this daemon is not on a mesh", hint="start it with `loopsy start --lan`")
    return mesh.hello()


@endpoint(
    "GET",
    "/peers",
    summary="Known peers with online status and latency",
    query=PeerQuery,
    response=PeerList,
    callers=OWNER,
    tags=TAGS,
)
async def list_peers(call: Call[None, PeerQuery]) -> PeerList:
    """Paired peers first. ``refresh=true`` checks every peer now instead of returning the
    last background check."""
    mesh = mesh_of(call.services)
    if call.query.refresh:
        return PeerList(peers=await mesh.health.check_all())
    return PeerList(peers=mesh.registry.all())


@endpoint(
    "GET",
    "/peers/{ref}",
    summary="One peer, checked now",
    response=PeerInfo,
    callers=OWNER,
    tags=TAGS,
)
async def peer_status(call: Call[None, None]) -> PeerInfo:
    """By name or id; runs a health check before answering."""
    mesh = mesh_of(call.services)
    peer = mesh.registry.get(call.path_param("ref"))
    if peer.host and peer.port:
        await mesh.health.check(peer)
    return mesh.registry.get(peer.id)


@endpoint(
    "POST",
    "/peers",
    summary="Add a peer by address (when mDNS cannot reach)",
    body=PeerAdd,
    response=PeerInfo,
    status=201,
    callers=OWNER,
    tags=TAGS,
)
async def add_peer(call: Call[PeerAdd, None]) -> PeerInfo:
    """Asks HOST:PORT who it is and records it; pair with it to call it."""
    import httpx  # only here: the daemon does not load it until a peer is added

    mesh = mesh_of(call.services)
    host, port = call.body.host, call.body.port or DEFAULT_MESH_PORT
    if any(c in host for c in "/?#@ ") or host.startswith("-"):
        raise BadRequest(f"{host!r} is not a host name or address")
    try:
        async with httpx.AsyncClient(verify=unverified_context(), timeout=5.0) as http:
            response = await http.get(base_url(host, port) + "/api/v1/mesh/hello")
        hello = NodeHello.model_validate_json(response.content)
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"no Loopsy peer answers at {host}:{port} ({type(exc).__name__})",
            hint="is its daemon started with `loopsy start --lan`? is the port (mesh.port) open?",
        ) from None
    except ValidationError:
        raise Unavailable(f"{host}:{port} is not a Loopsy mesh port") from None
    if hello.node_id == call.services.config.current.node.id:
        raise BadRequest("that address is this machine")
    peer = mesh.registry.note_seen(
        node_id=hello.node_id,
        name=hello.name,
        host=host,
        port=port,
        cert_fingerprint=hello.fingerprint,
        version=hello.version,
        capabilities=hello.capabilities,
        source="manual",
    )
    await mesh.health.check(peer)
    return mesh.registry.get(peer.id)


@endpoint(
    "DELETE",
    "/peers/{ref}",
    summary="Forget a peer and revoke its credential",
    response=PeerInfo,
    callers=OWNER,
    tags=TAGS,
)
async def remove_peer(call: Call[None, None]) -> PeerInfo:
    """The credential this machine issued to the peer stops working at once."""
    mesh = mesh_of(call.services)
    removed = mesh.registry.remove(call.path_param("ref"))
    call.services.audit.event(call.caller, "peer.removed", peer=removed.id, name=removed.name)
    return removed


@endpoint(
    "GET",
    "/peers/{ref}/endpoint",
    summary="How to call a paired peer (local only)",
    response=PeerEndpoint,
    callers=("local",),
    tags=TAGS,
)
async def peer_endpoint(call: Call[None, None]) -> PeerEndpoint:
    """Address, pinned certificate and the credential the peer issued to this machine: for
    this machine's own clients (CLI, MCP server), over the unix socket only."""
    return mesh_of(call.services).registry.endpoint(call.path_param("ref"))


routes = [mesh_hello, list_peers, add_peer, peer_endpoint, peer_status, remove_peer]
