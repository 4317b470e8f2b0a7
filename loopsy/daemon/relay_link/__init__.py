"""The daemon's link to its relay: device registration, pairing phones, and one end-to-end
channel per phone connection that carries the daemon's own API (see docs/PROTOCOL.md).

    link.py        the outbound WebSocket: reconnect with backoff + jitter, ping watchdog
    registry.py    paired phones, the daemon's static key, relay device credentials (SQLite)
    phone.py       one phone connection: handshake (pairing or session), then the tunnel
    tunnel.py      tunnelled requests and WebSockets dispatched into the daemon's ASGI app
"""
