"""The self-hosted relay (`loopsy relay serve`): a router that splices each daemon's
outbound WebSocket with its phones' and forwards opaque, end-to-end encrypted frames.

    store.py    SQLite: devices, pair tokens, phones (hashes and timestamps only)
    hub.py      live sockets and the bounded outboxes between them
    limits.py   per-IP rate limits
    app.py      the HTTP API, the three WebSockets, /app
    server.py   binding and uvicorn
"""
