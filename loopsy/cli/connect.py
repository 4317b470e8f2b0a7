"""Run a command's async body against the local daemon."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from loopsy.client import LoopsyClient

T = TypeVar("T")


def with_client(body: Callable[[LoopsyClient], Awaitable[T]]) -> T:
    """Open a client on ``$LOOPSY_HOME``'s unix socket, run ``body``, close it."""
    import anyio

    from loopsy.client import LoopsyClient

    async def run() -> T:
        async with LoopsyClient.local() as client:
            return await body(client)

    return anyio.run(run)
