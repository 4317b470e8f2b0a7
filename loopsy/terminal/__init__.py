"""A headless terminal emulator (pure: no I/O, no clocks).

Shared by the session holders (screen state, reattach snapshots) and the TUI (rendering).
"""

from loopsy.terminal.screen import Screen
from loopsy.terminal.style import DEFAULT, Color, Style

__all__ = ["DEFAULT", "Color", "Screen", "Style"]
