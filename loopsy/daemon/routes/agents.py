"""``/agents``: what a session can run, and pinned custom commands."""

from __future__ import annotations

from typing import Any

from loopsy.daemon.agents import AgentRegistry
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.services import Services
from loopsy.protocol.agents import AgentInfo, AgentList, CustomCommandPut, valid_name
from loopsy.protocol.errors import ValidationFailed
from loopsy.protocol.models import RequestModel

TAGS = ("agents",)


class AgentsQuery(RequestModel):
    refresh: bool = False


def registry_of(services: Services) -> AgentRegistry:
    registry = services.agents
    assert registry is not None, "agents are not set up"
    return registry


def _name(call: Call[Any, Any]) -> str:
    name = call.path_param("name")
    if not valid_name(name):
        raise ValidationFailed(
            f"invalid command name {name!r}",
            hint="letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


@endpoint("GET", "/agents", summary="List agents", query=AgentsQuery, response=AgentList, tags=TAGS)
async def list_agents(call: Call[None, AgentsQuery]) -> AgentList:
    """Built-in agents (detected or not, and how) and pinned custom commands. Detection is
    cached; ``refresh=true`` asks the binaries again."""
    return AgentList(agents=await registry_of(call.services).list_agents(call.query.refresh))


@endpoint(
    "PUT",
    "/agents/custom/{name}",
    summary="Pin a custom command",
    body=CustomCommandPut,
    response=AgentInfo,
    tags=TAGS,
)
async def pin_command(call: Call[CustomCommandPut, None]) -> AgentInfo:
    """Adds (or replaces) a command in the agent list, saved in config.yaml."""
    name = _name(call)
    registry = registry_of(call.services)
    created = registry.pin(name, call.body)
    call.services.audit.event(call.caller, "agents.pinned", name=name, created=created)
    infos = await registry.list_agents()
    return next(info for info in infos if info.name == name)


@endpoint(
    "DELETE", "/agents/custom/{name}", summary="Unpin a custom command", status=204, tags=TAGS
)
async def unpin_command(call: Call[None, None]) -> None:
    """Removes it from config.yaml; sessions already running it are not touched."""
    name = _name(call)
    registry_of(call.services).unpin(name)
    call.services.audit.event(call.caller, "agents.unpinned", name=name)


routes = [list_agents, pin_command, unpin_command]
