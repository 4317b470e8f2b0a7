"""Loopsy: your terminal, in your pocket."""

__version__ = "0.1.0"
