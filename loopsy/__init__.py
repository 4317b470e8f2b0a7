"""Loopsy: your terminal, in your pocket."""

import sys

# httpx imports its own command line (rich, click) when they are installed: ~40 ms of
# every `loopsy` start and ~3.6 MB of the daemon's memory, for a CLI we never use. Made to
# fail fast here, before anything (the client, the daemon's peer calls) imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__version__ = "0.1.0"
