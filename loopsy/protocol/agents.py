"""Agent registry messages: what can run in a session, and the pinned custom commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from loopsy.protocol.models import RequestModel, ResponseModel
from loopsy.protocol.sessions import NAME_PATTERN


class AgentInfo(ResponseModel):
    name: str = Field(description="What to pass as `agent` when creating a session")
    label: str
    kind: Literal["builtin", "custom"]
    argv: list[str] = Field(description="What a session of it runs (before auto-approve)")
    cwd: str | None = Field(None, description="A custom command's working directory")
    detected: bool = Field(description="The binary is on PATH (custom commands: argv[0])")
    path: str | None = Field(None, description="Where the binary was found")
    version: str | None = Field(None, description="First line of `--version`, if it answered")
    detection: str = Field(description="How it was detected, or why not")
    auto_approve_flag: str | None = Field(
        None, description="The flag auto-approve adds (None: the agent has no such mode)"
    )


class AgentList(ResponseModel):
    agents: list[AgentInfo]


class CustomCommandPut(RequestModel):
    label: str = Field(min_length=1, max_length=80)
    argv: list[str] = Field(min_length=1, max_length=256)
    cwd: str | None = Field(None, max_length=4096)

    @field_validator("argv")
    @classmethod
    def _argv(cls, value: list[str]) -> list[str]:
        if not value[0] or any("\0" in a for a in value):
            raise ValueError("argv[0] must be a program and no argument may contain NUL")
        return value


def valid_name(name: str) -> bool:
    import re

    return re.fullmatch(NAME_PATTERN, name) is not None
