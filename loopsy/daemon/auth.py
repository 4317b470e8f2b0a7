"""Who is calling: the transport decides, then a credential if the transport needs one.

- ``unix``: the socket file is 0600 in a 0700 directory; the file mode is the auth, and the
  caller is ``local``.
- ``tcp``: a bearer credential in ``Authorization: Bearer ...`` (or, for WebSockets from a
  browser-like client, ``Sec-WebSocket-Protocol: loopsy.bearer.<token>``). The daemon's API
  key and ``auth.allowedKeys`` give a ``key`` caller; other verifiers (peers) may be added.
- ``relay``: the relay link authenticates phones end to end and sets the caller itself.
- ``mesh``: the peer TLS listener (``--lan``): like ``tcp``, and the only transport on
  which a paired peer's credential is accepted.

Browsers must never drive the daemon: any request carrying an ``Origin`` header is refused,
and on TCP the ``Host`` must be an IP literal, ``localhost`` or this machine's own name, so
a DNS-rebinding page cannot reach even the open health route.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from loopsy.protocol.errors import ApiError, Forbidden, Unauthorized

Transport = Literal["unix", "tcp", "relay", "mesh"]
TRANSPORT_KEY = "loopsy.transport"
CALLER_KEY = "loopsy.caller"
BEARER_SUBPROTOCOL = "loopsy.bearer."


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: ``kind`` says how, ``id`` says who within that kind."""

    kind: Literal["local", "key", "peer", "phone", "anonymous"]
    id: str

    def __str__(self) -> str:
        return "anonymous" if self.kind == "anonymous" else f"{self.kind}:{self.id}"


LOCAL = Caller("local", "local")
ANONYMOUS = Caller("anonymous", "")  # only ever reaches routes declared public

# A verifier maps a presented bearer token to a caller, or None if it is not one of its own.
Verifier = Callable[[str], Caller | None]


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(presented: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(presented).encode(), stored_hash.encode())


class Authenticator:
    """Maps bearer tokens to callers; the API key can be swapped at once (key rotation)."""

    def __init__(self, api_key: str, allowed_keys: dict[str, str] | None = None) -> None:
        self._api_key_hash = hash_secret(api_key)
        self._allowed = dict(allowed_keys or {})
        self._verifiers: list[Verifier] = []

    def set_api_key(self, api_key: str) -> None:
        self._api_key_hash = hash_secret(api_key)

    def set_allowed_keys(self, allowed_keys: dict[str, str]) -> None:
        self._allowed = dict(allowed_keys)

    def add_verifier(self, verifier: Verifier) -> None:
        self._verifiers.append(verifier)

    def verify(self, token: str) -> Caller | None:
        # Every comparison runs, so timing says nothing about which one matched.
        matched: Caller | None = None
        if secret_matches(token, self._api_key_hash):
            matched = Caller("key", "api")
        for label, digest in self._allowed.items():
            if secret_matches(token, digest) and matched is None:
                matched = Caller("key", label)
        for verifier in self._verifiers:
            found = verifier(token)
            if found is not None and matched is None:
                matched = found
        return matched


def caller_of(scope: Scope) -> Caller:
    caller = scope.get(CALLER_KEY)
    if not isinstance(caller, Caller):  # AuthMiddleware always sets it on protected routes
        raise Unauthorized("not authenticated")
    return caller


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"sec-websocket-protocol":
            for item in value.decode("latin-1").split(","):
                item = item.strip()
                if item.startswith(BEARER_SUBPROTOCOL):
                    return item[len(BEARER_SUBPROTOCOL) :]
    return None


def local_host_names() -> set[str]:
    """Host header values (without port) that name this machine."""
    names = {"localhost", "localhost.localdomain"}
    hostname = socket.gethostname().lower()
    if hostname:
        names.update({hostname, f"{hostname}.local", hostname.split(".")[0] + ".local"})
        with contextlib.suppress(OSError):
            names.add(socket.getfqdn().lower())
    return names


def host_allowed(host_header: str, names: set[str]) -> bool:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:port
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host.rstrip(".") in names


class AuthMiddleware:
    """Sets ``scope["loopsy.caller"]`` or answers 401/403 before the router runs."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        public_paths: Iterable[str],
        error_response: Callable[[ApiError], Any],
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = frozenset(public_paths)
        self.host_names = local_host_names()
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        transport: Transport = scope.get(TRANSPORT_KEY, "tcp")
        try:
            self._authenticate(scope, transport)
        except ApiError as exc:
            await self._refuse(scope, receive, send, exc)
            return
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope, transport: Transport) -> None:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if transport == "relay":
            if not isinstance(scope.get(CALLER_KEY), Caller):
                raise Unauthorized("relay request without an authenticated phone")
            return
        if any(name == b"origin" for name, _ in headers):
            raise Forbidden(
                "cross-origin requests are refused",
                hint="the daemon is not reachable from web pages; use the phone app via a relay",
            )
        if transport == "unix":
            scope[CALLER_KEY] = LOCAL
            return
        host = next((v.decode("latin-1") for n, v in headers if n == b"host"), "")
        if not host_allowed(host, self.host_names):
            raise Forbidden(f"Host {host!r} is not this machine")
        if scope.get("path", "") in self.public_paths:
            scope[CALLER_KEY] = ANONYMOUS
            return
        token = bearer_token(headers)
        if token is None:
            raise Unauthorized(
                "missing API key", hint="send 'Authorization: Bearer <key>' (see `loopsy key show`)"
            )
        caller = self.authenticator.verify(token)
        if caller is None:
            if transport == "mesh":  # a peer's call: the key of this machine is not the point
                raise Unauthorized(
                    "unknown peer credential: not paired here, or removed",
                    hint="pair the machines again: `loopsy pair` here, `loopsy pair HOST` there",
                )
            raise Unauthorized("wrong API key", hint="see `loopsy key show`")
        if caller.kind == "peer" and transport != "mesh":
            # peer credentials are good only inside the pinned TLS of the peer listener
            raise Unauthorized("peer credentials are accepted on the mesh port only")
        scope[CALLER_KEY] = caller

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
        scope["loopsy.refused"] = exc.status
        if scope["type"] == "websocket":
            # Close before accept: the client sees an HTTP 403 handshake refusal.
            await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        response = self.error_response(exc)
        await response(scope, receive, send)
