"""The daemon's services, built once and handed to the app factory and the server.

Routes reach them through ``request.app.state.services``. A component with background
work (the relay link, mDNS, session supervision) implements :class:`Background`; the
server starts every one in its task group and cancels them on shutdown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from loopsy.config import Config, load_config, save_config
from loopsy.daemon.agents import AgentRegistry
from loopsy.daemon.approvals import Approvals
from loopsy.daemon.audit import AuditLog
from loopsy.daemon.auth import Authenticator
from loopsy.daemon.context import ContextPurger, ContextStore
from loopsy.daemon.events import EventBus
from loopsy.daemon.execute.executor import Executor
from loopsy.daemon.files import FileService
from loopsy.daemon.messages import MessageRetrier, Messages
from loopsy.daemon.ratelimit import RateLimiter
from loopsy.daemon.sessions.manager import SessionManager
from loopsy.daemon.store import Store
from loopsy.home import LoopsyHome
from loopsy.mesh.service import Mesh
from loopsy.protocol.errors import ConfigError, Conflict

if TYPE_CHECKING:
    from loopsy.daemon.relay_link.link import RelayLink


class Background(Protocol):
    async def run(self) -> None:
        """Run until cancelled."""


class ConfigStore:
    """The live configuration: read it here, change it with :meth:`update` (saved atomically)."""

    def __init__(self, home: LoopsyHome, config: Config) -> None:
        self.home = home
        self.current = config
        self._listeners: list[Callable[[Config], None]] = []

    def on_change(self, listener: Callable[[Config], None]) -> None:
        self._listeners.append(listener)

    def update(self, change: Callable[[Config], Config]) -> Config:
        """Apply ``change`` to a copy, validate, save, then notify listeners.

        What is saved is ``change`` applied to config.yaml as it is now, not to the config
        loaded at start: edits made to the file while the daemon runs (they apply at the
        next start) are kept, never silently reverted. A file that no longer loads is
        refused (409, naming the key) and nothing changes.
        """
        candidate = change(self.current.model_copy(deep=True))
        validated = Config.model_validate(candidate.model_dump(by_alias=True))
        saved = validated
        if self.home.config_file.exists():
            try:
                on_disk = load_config(self.home)
            except ConfigError as exc:
                raise Conflict(
                    f"config.yaml no longer loads ({exc.message}); nothing was changed",
                    hint="fix config.yaml (`loopsy doctor` names the key), then try again",
                ) from None
            saved = Config.model_validate(change(on_disk).model_dump(by_alias=True))
        save_config(self.home, saved)
        self.current = validated
        for listener in self._listeners:
            listener(validated)
        return validated

    def reload(self) -> Config:
        self.current = load_config(self.home)
        for listener in self._listeners:
            listener(self.current)
        return self.current


@dataclass
class Listening:
    """Where the daemon answers; filled in by the server once its sockets are bound."""

    tcp_host: str = "127.0.0.1"
    tcp_port: int = 0
    unix_path: str | None = None
    lan: bool = False


@dataclass
class Services:
    home: LoopsyHome
    config: ConfigStore
    store: Store
    audit: AuditLog
    auth: Authenticator
    limiter: RateLimiter
    context: ContextStore
    files: FileService
    execute: Executor
    clock: Callable[[], float] = time.time
    started_at: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)
    listening: Listening = field(default_factory=Listening)
    background: list[Background] = field(default_factory=list)
    mesh: Mesh | None = None
    messages: Messages | None = None
    events: EventBus = field(default_factory=EventBus)
    agents: AgentRegistry | None = None
    approvals: Approvals | None = None
    sessions: SessionManager | None = None
    relay_link: RelayLink | None = None

    def close(self) -> None:
        self.store.close()
        self.audit.close()


def create_services(home: LoopsyHome, config: Config | None = None) -> Services:
    """Open the store and logs under ``home`` and wire every service."""
    home.ensure()
    config = config if config is not None else load_config(home)
    config_store = ConfigStore(home, config)
    auth = Authenticator(config.auth.api_key, config.auth.allowed_keys)

    def on_config(new: Config) -> None:
        auth.set_api_key(new.auth.api_key)
        auth.set_allowed_keys(new.auth.allowed_keys)

    config_store.on_change(on_config)

    def limit_for(category: str) -> int | None:
        value = getattr(config_store.current.rate_limits, category, None)
        return value if isinstance(value, int) else None

    store = Store(home.database)
    audit = AuditLog(home.audit_log)
    services = Services(
        home=home,
        config=config_store,
        store=store,
        audit=audit,
        auth=auth,
        limiter=RateLimiter(limit_for),
        context=ContextStore(store, clock=time.time),
        files=FileService(home, lambda: config_store.current.transfer),
        execute=Executor(config_store, audit),
    )
    services.background.append(ContextPurger(services.context))
    services.mesh = create_mesh(services)
    services.messages = Messages(
        services.context,
        services.mesh.registry,
        node_id=lambda: config_store.current.node.id,
        clock=services.clock,
    )
    services.background.append(MessageRetrier(services.messages))
    # What the TUI shows live: inbox, peers and phones changes on the event bus.
    services.messages.on_change = lambda kind, msg_id: services.events.publish(
        "messages", kind, {"id": msg_id}
    )
    services.mesh.registry.on_change = lambda kind, peer_id: services.events.publish(
        "peers", kind, {"id": peer_id}
    )
    from loopsy.daemon.sessions.wiring import install as install_sessions

    install_sessions(services)  # agents, approvals, sessions + their background work
    services.relay_link = create_relay_link(services)
    return services


def create_mesh(services: Services) -> Mesh:
    """The peer registry, pairing and health checks; paired peers' credentials become
    ``peer`` callers from the moment they are stored (no restart)."""
    from loopsy.daemon.auth import Caller, hash_secret

    mesh = Mesh(
        directory=services.home.mesh_dir,
        config=lambda: services.config.current,
        store=services.store,
        hash_secret=hash_secret,
        on_event=lambda action, fields: services.audit.event("mesh", action, **fields),
        clock=services.clock,
    )

    def verify_peer(token: str) -> Caller | None:
        peer_id = mesh.registry.peer_for_token(token)
        return Caller("peer", peer_id) if peer_id is not None else None

    services.auth.add_verifier(verify_peer)
    return mesh


def create_relay_link(services: Services) -> RelayLink:
    """The link to the configured relay: phones are pinned in the store, and their tunnels
    reach this daemon's own app in-process (caller ``phone:<id>``, transport ``relay``)."""
    import secrets

    from starlette.types import ASGIApp

    from loopsy.daemon.relay_link.link import RelayLink
    from loopsy.daemon.relay_link.registry import PhoneRegistry

    def app_factory() -> ASGIApp:
        from loopsy.daemon.app import Tagged, create_app

        return Tagged(create_app(services), "relay")

    phones = PhoneRegistry(services.store, clock=services.clock, randbytes=secrets.token_bytes)
    phones.on_change = lambda kind, phone_id: services.events.publish(
        "phones", kind, {"phone_id": phone_id}
    )
    link = RelayLink(
        config=lambda: services.config.current,
        registry=phones,
        app_factory=app_factory,
        clock=services.clock,
        randbytes=secrets.token_bytes,
    )
    link.on_change = lambda kind: services.events.publish("relay", kind, {})
    services.config.on_change(link.on_config)
    services.background.append(link)
    return link
