"""The one async API client: every CLI command, the TUI, the MCP server and peer calls use it.

    async with LoopsyClient.local() as client:
        status = await client.status()

Capabilities hang off it by concept (``client.context``, ``client.sessions``, ...), each
in its own module here. ``LoopsyClient`` is imported on first use, so a module of this
package that needs none of httpx (``probe``, for ``loopsy status``) loads without it.
"""

from typing import TYPE_CHECKING, Any

# (httpx's own command line is kept from loading by loopsy/__init__.py.)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

__all__ = ["LoopsyClient"]


def __getattr__(name: str) -> Any:
    if name == "LoopsyClient":
        from loopsy.client.core import LoopsyClient

        return LoopsyClient
    raise AttributeError(f"module 'loopsy.client' has no attribute {name!r}")
