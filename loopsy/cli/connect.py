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
    import httpx

    from loopsy.client import LoopsyClient
    from loopsy.protocol.errors import LoopsyError

    async def run() -> T:
        async with LoopsyClient.local() as client:
            if peer is None:
                return await body(client)
            from loopsy.client.peers import peer_client

            async with await peer_client(client, peer) as remote:
                return await body(remote)

    # The client raises transport failures as httpx errors (its other users retry on
    # them); here they end the command with a message, not a traceback.
    who = f"peer {peer!r}" if peer is not None else "the daemon"
    hint = (
        "`loopsy peers list` shows whether it is online"
        if peer is not None
        else "it may be stuck: `loopsy stop` stops it (killing it if it must), then "
        "`loopsy start`; see logs/daemon.log"
    )
    try:
        return anyio.run(run)
    except httpx.TimeoutException:
        raise LoopsyError(f"{who} did not answer in time", hint=hint) from None
    except httpx.TransportError as exc:
        raise LoopsyError(f"the connection to {who} failed: {exc}", hint=hint) from None


def add_peer_argument(parser: Any) -> None:
    """``--peer NAME``: the one way every command targets a paired peer."""
    parser.add_argument(
        "--peer",
        metavar="NAME",
        help="run on a paired peer (name or id, see `loopsy peers list`) instead of here",
    )
