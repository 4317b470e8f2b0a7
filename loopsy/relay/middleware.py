"""What every relay response gets, and what every request is refused for before routing:
no credentials in URLs, security headers, a Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from loopsy.relay.problems import ApiProblem, deny

SECRET_NAMES = re.compile(
    r"(^|&)(token|secret|credential|key|auth|authorization|access_token|pair|password)=",
    re.IGNORECASE,
)


class NoSecretsInUrls:
    """Refuses credentials in query strings (they end up in logs and browser history), and
    any query string at all on the WebSocket routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            query = scope.get("query_string", b"").decode("latin-1")
            problem = None
            if SECRET_NAMES.search(query):
                problem = "credentials in the URL are refused"
            elif query and scope["type"] == "websocket":
                problem = "relay WebSockets take no query string"
            if problem:
                err = ApiProblem(400, "bad_request", problem, "send it in Sec-WebSocket-Protocol")
                if scope["type"] == "websocket":
                    await deny(WebSocket(scope, receive, send), err)
                else:
                    await err.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


# The phone client's policy (also in mobile_web/static/index.html as a <meta>): its own
# bundled script only, no eval, connections only to this relay's origin (ws/wss included),
# no framing. Styles allow 'unsafe-inline' because xterm.js writes <style> elements.
APP_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    b"form-action 'none'; frame-ancestors 'none'"
)
API_CSP = b"default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = str(scope.get("path", ""))
        csp = APP_CSP if path == "/app" or path.startswith("/app/") else API_CSP

        async def add_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", csp),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)
