"""Wire the sessions service and its companions (agent registry, approvals) into the
daemon's :class:`~loopsy.daemon.services.Services`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.daemon.agents import AgentRegistry
from loopsy.daemon.approvals import Approvals
from loopsy.daemon.sessions.manager import SessionManager

if TYPE_CHECKING:
    from loopsy.daemon.services import Services


def install(services: Services) -> None:
    config = services.config
    services.agents = AgentRegistry(config)
    services.approvals = Approvals(
        services.store,
        services.events,
        services.audit,
        ttl=lambda: float(config.current.sessions.approval_ttl),
        clock=services.clock,
    )
    services.sessions = SessionManager(
        services.home,
        config,
        services.store,
        services.events,
        services.audit,
        services.agents,
        services.approvals,
        clock=services.clock,
    )
    services.background.append(services.approvals)
    services.background.append(services.sessions)
