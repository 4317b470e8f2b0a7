"""The client's core: connection choice, requests, error mapping."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from loopsy.client.connection import (
    API_PREFIX,
    Connection,
    TcpConnection,
    UnixConnection,
    WebSocketStream,
)
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import (
    DaemonNotRunning,
    ProtocolError,
    api_error_from,
    api_error_from_close,
)
from loopsy.protocol.status import Health, Status

if TYPE_CHECKING:
    from loopsy.client.agents import AgentsApi
    from loopsy.client.apikey import ApiKeyApi
    from loopsy.client.approvals import ApprovalsApi
    from loopsy.client.audit import AuditApi
    from loopsy.client.context import ContextApi
    from loopsy.client.events import EventsApi
    from loopsy.client.execute import ExecuteApi
    from loopsy.client.files import FilesApi
    from loopsy.client.messages import MessagesApi
    from loopsy.client.peers import PeersApi
    from loopsy.client.phones import PhonesApi, RelayApi
    from loopsy.client.sessions import SessionsApi

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# A path httpx would send unchanged: already percent-encoded, no dot segments to remove.
# Only such paths take the direct unix-socket route in LoopsyClient.request.
_PLAIN_PATH = re.compile(
    r"(?:/(?!\.\.?(?:/|$))(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*"
)


def path(*segments: str) -> str:
    """Join URL path segments, quoting each (a key may hold ``/`` or ``..``)."""
    return "".join("/" + _quote_segment(s) for s in segments)


def _quote_segment(segment: str) -> str:
    # A bare "." or ".." segment would be dropped by URL normalisation (RFC 3986 dot
    # segments, which httpx applies), so its dots are percent-encoded too.
    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return quote(segment, safe="")


class LoopsyClient:
    def __init__(self, connection: Connection, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT):
        from loopsy.client.unix_http import UnixSocketTransport

        self.connection = connection
        transport = connection.http_transport()
        self._http = httpx.AsyncClient(
            transport=transport,
            base_url=connection.base_url + API_PREFIX,
            headers=connection.auth_headers(),
            timeout=timeout,
        )
        # On the unix socket, requests with a bytes body skip httpx's request side (see
        # unix_http); TCP, the relay tunnel and streamed bodies go through httpx.
        self._direct = transport if isinstance(transport, UnixSocketTransport) else None
        self._timeouts = timeout.as_dict()

    # -- capabilities, by concept (imported on first use: `loopsy status` stays fast) ------

    @cached_property
    def context(self) -> ContextApi:
        from loopsy.client.context import ContextApi

        return ContextApi(self)

    @cached_property
    def api_key(self) -> ApiKeyApi:
        from loopsy.client.apikey import ApiKeyApi

        return ApiKeyApi(self)

    @cached_property
    def execute(self) -> ExecuteApi:
        from loopsy.client.execute import ExecuteApi

        return ExecuteApi(self)

    @cached_property
    def files(self) -> FilesApi:
        from loopsy.client.files import FilesApi

        return FilesApi(self)

    @cached_property
    def audit(self) -> AuditApi:
        from loopsy.client.audit import AuditApi

        return AuditApi(self)

    @cached_property
    def peers(self) -> PeersApi:
        from loopsy.client.peers import PeersApi

        return PeersApi(self)

    @cached_property
    def messages(self) -> MessagesApi:
        from loopsy.client.messages import MessagesApi

        return MessagesApi(self)

    @cached_property
    def phones(self) -> PhonesApi:
        from loopsy.client.phones import PhonesApi

        return PhonesApi(self)

    @cached_property
    def relay(self) -> RelayApi:
        from loopsy.client.phones import RelayApi

        return RelayApi(self)

    @cached_property
    def sessions(self) -> SessionsApi:
        from loopsy.client.sessions import SessionsApi

        return SessionsApi(self)

    @cached_property
    def agents(self) -> AgentsApi:
        from loopsy.client.agents import AgentsApi

        return AgentsApi(self)

    @cached_property
    def approvals(self) -> ApprovalsApi:
        from loopsy.client.approvals import ApprovalsApi

        return ApprovalsApi(self)

    @cached_property
    def events(self) -> EventsApi:
        from loopsy.client.events import EventsApi

        return EventsApi(self)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def local(cls, home: LoopsyHome | None = None) -> LoopsyClient:
        """The daemon of ``home`` (default ``$LOOPSY_HOME``) over its unix socket."""
        home = home or LoopsyHome.from_env()
        return cls(UnixConnection(home.socket))

    @classmethod
    def tcp(cls, host: str, port: int, token: str | None = None) -> LoopsyClient:
        return cls(TcpConnection(host, port, token))

    async def __aenter__(self) -> LoopsyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: BaseModel | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send a request to ``/api/v1{url}``; raise the daemon's error as an exception."""
        body: bytes | AsyncIterable[bytes] | None = content
        send_headers = dict(headers or {})
        if json_body is not None:
            body = (
                json_body.model_dump_json(exclude_unset=False).encode()
                if isinstance(json_body, BaseModel)
                else json.dumps(json_body).encode()
            )
            send_headers.setdefault("Content-Type", "application/json")
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if self._direct is not None and not isinstance(body, AsyncIterable):
            direct = await self._request_direct(
                method, url, body or b"", query, send_headers, request_timeout
            )
            if direct is not None:
                return direct
        try:
            response = await self._http.request(
                method,
                url,
                content=body,
                params=query or None,  # None skips httpx's URL re-parse for merging
                headers=send_headers,
                timeout=request_timeout
                if request_timeout is not None
                else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.ConnectError, FileNotFoundError, ConnectionRefusedError) as exc:
            raise self.not_running(exc) from None
        if response.status_code >= 400:
            raise api_error_from(response.status_code, _json_or_none(response))
        return response

    async def _request_direct(
        self,
        method: str,
        url: str,
        body: bytes,
        query: Mapping[str, Any],
        headers: Mapping[str, str],
        request_timeout: float | httpx.Timeout | None,
    ) -> httpx.Response | None:
        """:meth:`request` straight through the unix-socket transport; None when ``url``
        needs httpx's normalisation (then the caller takes the httpx route)."""
        assert self._direct is not None
        if not _PLAIN_PATH.fullmatch(url):
            return None
        target = API_PREFIX + url
        if query:
            target += "?" + str(httpx.QueryParams(query))
        if request_timeout is None:
            timeouts = self._timeouts
        elif isinstance(request_timeout, httpx.Timeout):
            timeouts = request_timeout.as_dict()
        else:
            timeouts = dict.fromkeys(("connect", "read", "write", "pool"), request_timeout)
        try:
            response = await self._direct.exchange(
                method,
                target,
                [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
                body,
                timeouts,
            )
        except (httpx.ConnectError, FileNotFoundError, ConnectionRefusedError) as exc:
            raise self.not_running(exc) from None
        if response.status_code >= 400:
            raise api_error_from(response.status_code, _json_or_none(response))
        return response

    async def get_model(
        self, url: str, model: type[M], *, params: Mapping[str, Any] | None = None
    ) -> M:
        response = await self.request("GET", url, params=params)
        return parse(model, response)

    async def call_model(
        self,
        method: str,
        url: str,
        model: type[M],
        *,
        json_body: BaseModel | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> M:
        response = await self.request(method, url, json_body=json_body, params=params)
        return parse(model, response)

    def stream(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """An ``httpx`` streaming response context (files); check errors with
        :func:`raise_for_error`."""
        return self._http.stream(
            method, url, params={k: v for k, v in (params or {}).items() if v is not None}, **kwargs
        )

    async def websocket(self, url: str, subprotocols: Sequence[str] = ()) -> WebSocketStream:
        try:
            return await self.connection.open_websocket(url, subprotocols)
        except (OSError, TimeoutError) as exc:
            raise self.not_running(exc) from None

    async def websocket_messages(self, url: str) -> AsyncIterator[bytes | str]:
        """Each message of a server-to-client WebSocket stream (audit tail, events) until
        the daemon ends it: a normal close ends the iteration, an error close (4000 +
        status) raises that error, a lost connection raises DaemonNotRunning."""
        from websockets.exceptions import ConnectionClosed

        ws = await self.websocket(url)
        try:
            while True:
                try:
                    message = await ws.recv()
                except ConnectionClosed as closed:
                    received = closed.rcvd
                    error = (
                        api_error_from_close(received.code, received.reason)
                        if received is not None
                        else self.not_running(closed)
                    )
                    if error is not None:
                        raise error from None
                    return
                yield message
        finally:
            await ws.close()

    def not_running(self, exc: BaseException) -> DaemonNotRunning:
        return DaemonNotRunning(
            f"no Loopsy daemon answers at {self.connection.description} ({_reason(exc)})",
            hint="start it with `loopsy start`",
        )

    # -- the daemon itself ------------------------------------------------------------

    async def health(self) -> Health:
        return await self.get_model("/health", Health)

    async def status(self) -> Status:
        return await self.get_model("/status", Status)

    async def openapi(self) -> dict[str, Any]:
        response = await self.request("GET", "/openapi.json")
        data = _json_or_none(response)
        if not isinstance(data, dict):
            raise ProtocolError("the OpenAPI document is not a JSON object")
        return data


async def raise_for_error(response: httpx.Response) -> None:
    """For streamed responses: read the body of an error response and raise it."""
    if response.status_code >= 400:
        await response.aread()
        raise api_error_from(response.status_code, _json_or_none(response))


def parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValueError as exc:
        raise ProtocolError(f"unexpected answer from the daemon: {exc}") from None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."
