"""The relay's ASGI app: the HTTP API, the three WebSockets, and the phone client at /app.

The routes and their formats are specified in docs/PROTOCOL.md ("Relay HTTP API" and
"Relay WebSockets"); tests/conformance/ checks them against any relay implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from loopsy import __version__
from loopsy.protocol import relay as wire
from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.pairing import Credential, check_id, secret_hash
from loopsy.relay.hub import Hub, PhoneSocket
from loopsy.relay.limits import Window
from loopsy.relay.middleware import NoSecretsInUrls, SecurityHeaders
from loopsy.relay.problems import ApiProblem
from loopsy.relay.sockets import RelaySockets
from loopsy.relay.store import RelayStore

log = logging.getLogger("loopsy.relay")

MAX_BODY = 16 * 1024
MAX_OPEN_PAIRS = 20
MAX_PHONES = 100
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RelaySettings:
    max_pair_ttl: float = 900.0
    register_rate: int = 5  # registrations per minute per IP
    failed_auth_rate: int = 30  # failed credentials per minute per IP before 429
    registration_secret_hash: str | None = None
    app_dir: Path | None = None


class Relay:
    """The relay's state and handlers; :meth:`app` builds the ASGI app."""

    def __init__(
        self,
        store: RelayStore,
        settings: RelaySettings,
        *,
        clock: Callable[[], float],
        randbytes: Callable[[int], bytes],
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.randbytes = randbytes
        self.hub = Hub(on_phone_seen=self._phone_seen)
        self.registrations = Window(settings.register_rate, 60.0, clock)
        self.failures = Window(settings.failed_auth_rate, 60.0, clock)

    # -- helpers ------------------------------------------------------------------------

    def _ip(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "?"

    def refuse_credential(self, scope: Scope, message: str) -> ApiProblem:
        wait = self.failures.hit(self._ip(scope))
        if wait:
            return ApiProblem(429, "rate_limited", "too many failed credentials", retry=wait)
        return ApiProblem(401, "unauthorized", message)

    def limit_failures(self, scope: Scope) -> None:
        wait = self.failures.retry_after(self._ip(scope))
        if wait:
            raise ApiProblem(429, "rate_limited", "too many failed credentials", retry=wait)

    def _device(self, request: Request) -> str:
        self.limit_failures(request.scope)
        header = request.headers.get("authorization")
        if header is None:
            raise ApiProblem(
                401, "unauthorized", "missing device credential", "Authorization: Bearer <id>.<s>"
            )
        try:
            auth = wire.parse_auth([], header)
        except ProtocolError as exc:
            raise self.refuse_credential(request.scope, str(exc)) from None
        assert auth.credential is not None
        if not self.store.check_device(auth.credential.id, auth.credential.secret):
            raise self.refuse_credential(request.scope, "unknown device or wrong credential")
        return auth.credential.id

    async def _body(self, request: Request) -> dict[str, Any]:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY:
                raise ApiProblem(413, "too_large", f"request body over {MAX_BODY} bytes")
        if not data:
            return {}
        try:
            value = json.loads(data)
        except ValueError:
            raise ApiProblem(400, "bad_request", "request body is not JSON") from None
        if not isinstance(value, dict):
            raise ApiProblem(400, "bad_request", "request body must be a JSON object")
        return value

    def _phone_seen(self, phone: PhoneSocket) -> None:
        if phone.kind == "phone":
            self.store.touch_phone(phone.device_id, phone.ident, self.clock())

    # -- HTTP ---------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "service": "loopsy-relay", "protocol": 1, "version": __version__}
        )

    async def register(self, request: Request) -> Response:
        expected = self.settings.registration_secret_hash
        if expected is not None:
            presented = request.headers.get("x-loopsy-registration", "")
            if not _equal_hash(presented.encode(), expected):
                raise self.refuse_credential(request.scope, "wrong or missing registration secret")
        wait = self.registrations.hit(self._ip(request.scope))
        if wait:
            raise ApiProblem(429, "rate_limited", "too many registrations from here", retry=wait)
        await self._body(request)
        device_id = self.randbytes(8).hex()
        secret = self.randbytes(32)
        self.store.add_device(device_id, secret_hash(secret), self.clock())
        credential = str(Credential(device_id, secret))
        return JSONResponse({"device_id": device_id, "credential": credential}, status_code=201)

    async def device_info(self, request: Request) -> Response:
        device_id = self._device(request)
        return JSONResponse(
            {
                "device_id": device_id,
                "created_at": self.store.device_created(device_id),
                "connected": self.hub.online(device_id),
                "phones": self.store.phone_count(device_id),
            }
        )

    async def issue_pair(self, request: Request) -> Response:
        device_id = self._device(request)
        body = await self._body(request)
        pair_id = _field_id(body, "pair_id")
        token_hash = body.get("token_hash")
        ttl = body.get("ttl", 300)
        if not isinstance(token_hash, str) or not HEX64.fullmatch(token_hash):
            raise ApiProblem(422, "invalid", "token_hash must be 64 lowercase hex digits")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= 86400:
            raise ApiProblem(422, "invalid", "ttl must be a number of seconds, 1..86400")
        now = self.clock()
        if self.store.open_pairs(device_id, now) >= MAX_OPEN_PAIRS:
            raise ApiProblem(429, "rate_limited", "too many open pair tokens", retry=60)
        ttl = min(float(ttl), self.settings.max_pair_ttl)
        if not self.store.add_pair(pair_id, device_id, token_hash, now + ttl):
            raise ApiProblem(409, "conflict", "pair id or token already used")
        return JSONResponse(
            {"pair_id": pair_id, "expires_at": now + ttl, "ttl": ttl}, status_code=201
        )

    async def burn_pair(self, request: Request) -> Response:
        device_id = self._device(request)
        pair_id = _path_id(request, "pair_id")
        if not self.store.burn_pair(device_id, pair_id):
            raise ApiProblem(404, "not_found", "no such pair")
        self.hub.close_phones(device_id, "pair", pair_id, wire.Close.GONE, "pairing burned")
        return Response(status_code=204)

    async def add_phone(self, request: Request) -> Response:
        device_id = self._device(request)
        body = await self._body(request)
        pair_id, phone_id = _field_id(body, "pair_id"), _field_id(body, "phone_id")
        credential_hash = body.get("credential_hash")
        if not isinstance(credential_hash, str) or not HEX64.fullmatch(credential_hash):
            raise ApiProblem(422, "invalid", "credential_hash must be 64 lowercase hex digits")
        if self.store.phone_count(device_id) >= MAX_PHONES:
            raise ApiProblem(409, "conflict", f"a device may have at most {MAX_PHONES} phones")
        outcome = self.store.add_phone(device_id, pair_id, phone_id, credential_hash, self.clock())
        if outcome == "gone":
            raise ApiProblem(404, "not_found", "pair is unknown, used, expired or burned")
        if outcome == "exists":
            raise ApiProblem(409, "conflict", "phone id already exists")
        return JSONResponse({"phone_id": phone_id}, status_code=201)

    async def list_phones(self, request: Request) -> Response:
        device_id = self._device(request)
        live = self.hub.connected_phone_ids(device_id)
        phones = [
            {
                "phone_id": p.phone_id,
                "created_at": p.created_at,
                "last_seen": p.last_seen,
                "connected": p.phone_id in live,
            }
            for p in self.store.phones(device_id)
        ]
        return JSONResponse({"phones": phones})

    async def revoke_phone(self, request: Request) -> Response:
        device_id = self._device(request)
        phone_id = _path_id(request, "phone_id")
        if not self.store.delete_phone(device_id, phone_id):
            raise ApiProblem(404, "not_found", "no such phone")
        self.hub.close_phones(device_id, "phone", phone_id, wire.Close.REVOKED, "revoked")
        return Response(status_code=204)

    # -- app ----------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        sockets = RelaySockets(self)
        routes: list[Any] = [
            Route("/", self.index),
            Route("/v1/health", self.health),
            Route("/v1/devices", self.register, methods=["POST"]),
            Route("/v1/device", self.device_info),
            Route("/v1/pairs", self.issue_pair, methods=["POST"]),
            Route("/v1/pairs/{pair_id}", self.burn_pair, methods=["DELETE"]),
            Route("/v1/phones", self.add_phone, methods=["POST"]),
            Route("/v1/phones", self.list_phones, methods=["GET"]),
            Route("/v1/phones/{phone_id}", self.revoke_phone, methods=["DELETE"]),
            WebSocketRoute("/v1/device/connect", sockets.device_socket),
            WebSocketRoute("/v1/pair/connect", sockets.pair_socket),
            WebSocketRoute("/v1/phone/connect", sockets.phone_socket),
        ]
        app_dir = self.settings.app_dir
        if app_dir is not None and (app_dir / "index.html").is_file():
            routes.append(Mount("/app", StaticFiles(directory=app_dir, html=True)))
        else:
            routes += [Route("/app", not_built), Route("/app/{rest:path}", not_built)]

        async def problem(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, ApiProblem)
            return exc.response()

        async def http_error(request: Request, exc: Exception) -> Response:
            status = getattr(exc, "status_code", 500)
            code = {404: "not_found", 405: "bad_request"}.get(status, "bad_request")
            return ApiProblem(status, code, str(getattr(exc, "detail", "error"))).response()

        from starlette.exceptions import HTTPException

        app = Starlette(
            routes=routes,
            exception_handlers={ApiProblem: problem, HTTPException: http_error},
            lifespan=self._lifespan,
        )
        return SecurityHeaders(NoSecretsInUrls(app))

    async def index(self, request: Request) -> Response:
        return JSONResponse({"service": "loopsy-relay", "app": "/app", "health": "/v1/health"})

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(self._sweep())
        try:
            yield
        finally:
            for links in (list(self.hub.links.values()),):
                for link in links:
                    link.close(wire.Close.UNAVAILABLE, "relay stopping")
            task.cancel()

    async def _sweep(self) -> None:
        while True:
            self.store.delete_expired(self.clock())
            await asyncio.sleep(30)


NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loopsy relay</title></head><body style="font-family: sans-serif; margin: 2em">
<h1>Loopsy relay</h1>
<p>The relay is running, but the phone client is not built.</p>
<p>On the machine that runs the relay: <code>scripts/setup</code> (it builds
<code>mobile_web/dist</code>), or start the relay with <code>--app-dir DIR</code>.</p>
</body></html>"""


async def not_built(request: Request) -> Response:
    return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})


def _equal_hash(presented: bytes, expected_hash: str) -> bool:
    import hmac

    return hmac.compare_digest(secret_hash(presented).encode(), expected_hash.encode())


def _field_id(body: dict[str, Any], name: str) -> str:
    try:
        return check_id(body.get(name), name)  # type: ignore[arg-type]
    except ProtocolError as exc:
        raise ApiProblem(422, "invalid", str(exc)) from None


def _path_id(request: Request, name: str) -> str:
    try:
        return check_id(str(request.path_params[name]), name)
    except ProtocolError as exc:
        raise ApiProblem(404, "not_found", str(exc)) from None
