"""The self-hosted relay (`loopsy relay serve`): a router that splices each daemon's
outbound WebSocket with its phones' and forwards opaque, end-to-end encrypted frames.

    store.py    SQLite: devices, pair tokens, phones (hashes and timestamps only)
    hub.py      live sockets and the bounded outboxes between them
    limits.py   per-IP rate limits
    problems.py errors on the wire; refusing a WebSocket upgrade
    middleware.py  no credentials in URLs; security headers and CSP
    sockets.py  the three WebSockets (daemon link, pairing phone, paired phone)
    app.py      the relay's state, the HTTP API, /app, the app factory
    server.py   binding and uvicorn
"""
