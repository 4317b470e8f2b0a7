"""How long ago, and for how long: short human forms for tables and the status bar."""

from __future__ import annotations

import time


def ago(ts: float | None, now: float) -> str:
    """``12s ago``, ``3m ago``, ``5h ago``, ``2d ago``; ``never`` for None."""
    if ts is None:
        return "never"
    return f"{span(max(0.0, now - ts))} ago"


def span(seconds: float) -> str:
    """The largest unit that fits: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def duration(seconds: float) -> str:
    """An uptime: ``45s``, ``12m``, ``3h 05m``, ``2d 4h``."""
    seconds = int(seconds)
    if seconds < 3600:
        return span(seconds)
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def clock_time(ts: float) -> str:
    """Local wall-clock time of ``ts``: ``14:03:07``."""
    return time.strftime("%H:%M:%S", time.localtime(ts))
