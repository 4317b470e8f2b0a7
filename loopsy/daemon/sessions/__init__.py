"""PTY sessions: per-session holder processes (forked from a zygote), and the daemon's
side of them (manager, supervision, attach bridging). See docs/PROTOCOL.md, "Session
stream", for the design.

Kept empty on purpose: the holder imports modules of this package and must stay small.
"""
