"""The one async API client: every CLI command, the TUI, the MCP server and peer calls use it.

    async with LoopsyClient.local() as client:
        status = await client.status()

Capabilities hang off it by concept (``client.context``, ``client.sessions``, ...), each
in its own module here. ``LoopsyClient`` is imported on first use, so a module of this
package that needs none of httpx (``probe``, for ``loopsy status``) loads without it.
"""

import sys
from typing import TYPE_CHECKING, Any

# httpx imports its own command line (rich, click) when they are installed, which costs
# ~40 ms of every `loopsy` start; we never use it, so that import is made to fail fast.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

__all__ = ["LoopsyClient"]


def __getattr__(name: str) -> Any:
    if name == "LoopsyClient":
        from loopsy.client.core import LoopsyClient

        return LoopsyClient
    raise AttributeError(f"module 'loopsy.client' has no attribute {name!r}")
