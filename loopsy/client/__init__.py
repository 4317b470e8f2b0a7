"""The one async API client: every CLI command, the TUI, the MCP server and peer calls use it.

    async with LoopsyClient.local() as client:
        status = await client.status()

Capabilities hang off it by concept (``client.context``, ``client.sessions``, ...), each
in its own module here.
"""

import sys

# httpx imports its own command line (rich, click) when they are installed, which costs
# ~40 ms of every `loopsy` start; we never use it, so that import is made to fail fast.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from loopsy.client.core import LoopsyClient  # noqa: E402

__all__ = ["LoopsyClient"]
