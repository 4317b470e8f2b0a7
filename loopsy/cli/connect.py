"""Run a command's async body against the local daemon, or a paired peer (``--peer``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from loopsy.client import LoopsyClient

T = TypeVar("T")


def with_client(body: Callable[[LoopsyClient], Awaitable[T]], *, peer: str | None = None) -> T:
    """Open a client on ``$LOOPSY_HOME``'s unix socket, run ``body``, close it. With
    ``peer`` (a name or id), ``body`` gets a client on that paired peer instead: the same
    API, reached over pinned TLS with the credential the peer issued to this machine."""
    import anyio

    from loopsy.client import LoopsyClient

    async def run() -> T:
        async with LoopsyClient.local() as client:
            if peer is None:
                return await body(client)
            from loopsy.client.peers import peer_client

            async with await peer_client(client, peer) as remote:
                return await body(remote)

    return anyio.run(run)


def add_peer_argument(parser: Any) -> None:
    """``--peer NAME``: the one way every command targets a paired peer."""
    parser.add_argument(
        "--peer",
        metavar="NAME",
        help="run on a paired peer (name or id, see `loopsy peers list`) instead of here",
    )
