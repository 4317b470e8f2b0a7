"""Sessions API messages (the JSON side; the byte stream is :mod:`loopsy.protocol.stream`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from loopsy.protocol.models import RequestModel, ResponseModel
from loopsy.protocol.stream import MAX_COLS, MAX_INPUT, MAX_ROWS, SIGNAL_NAMES

SessionState = Literal["pending", "running", "exited"]
ExitReason = Literal["exited", "signalled", "lost", "denied", "expired"]
AutoApprove = Literal["off", "pending", "on", "denied"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
MAX_ARGV = 256
MAX_ENV = 256


class SessionCreate(RequestModel):
    agent: str | None = Field(
        None,
        description="An agent from GET /agents (shell, claude, codex, ...), or a pinned "
        "custom command's name. Omit it and give argv to run any command; omit both for a shell.",
    )
    argv: list[str] | None = Field(None, min_length=1, max_length=MAX_ARGV)
    args: list[str] = Field(
        default_factory=list, max_length=MAX_ARGV, description="Extra arguments for the agent"
    )
    cwd: str | None = Field(None, description="Working directory (default: your home)")
    env: dict[str, str] = Field(default_factory=dict, description="Added to the environment")
    cols: int = Field(80, ge=1, le=MAX_COLS)
    rows: int = Field(24, ge=1, le=MAX_ROWS)
    name: str | None = Field(None, pattern=NAME_PATTERN, description="Unique; default agent-N")
    auto_approve: bool = Field(
        False,
        description="Run the agent with its auto-approve flag. Needs confirmation on the "
        "machine itself: the session waits (state 'pending') for `loopsy approvals allow`.",
    )
    record: bool | None = Field(None, description="asciinema recording (default: config)")

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ENV:
            raise ValueError(f"at most {MAX_ENV} variables")
        for key, item in value.items():
            if not key or "=" in key or "\0" in key or "\0" in item:
                raise ValueError(f"invalid environment variable {key!r}")
        return value

    @field_validator("argv", "args")
    @classmethod
    def _no_nul(cls, value: list[str] | None) -> list[str] | None:
        if value and any("\0" in a for a in value):
            raise ValueError("arguments cannot contain NUL bytes")
        return value


class SessionExit(ResponseModel):
    reason: ExitReason
    code: int | None = Field(None, description="Exit code, when the program exited")
    signal: str | None = Field(None, description="Signal name (KILL, HUP...), when killed")
    ended: float | None = None


class SessionInfo(ResponseModel):
    id: str
    name: str
    agent: str | None = Field(None, description="Registry name, or None for a custom argv")
    argv: list[str]
    cwd: str
    pid: int | None = Field(None, description="The program's pid")
    holder_pid: int | None = None
    cols: int
    rows: int
    created: float
    started: float | None = None
    state: SessionState
    exit: SessionExit | None = None
    attached: int = Field(0, description="Clients attached now")
    auto_approve: AutoApprove = "off"
    approval_id: str | None = None
    recording: bool = False
    env_keys: list[str] = Field(default_factory=list, description="Names of the added env")


class SessionList(ResponseModel):
    sessions: list[SessionInfo]


class SessionRename(RequestModel):
    name: str = Field(pattern=NAME_PATTERN)


class SessionResize(RequestModel):
    cols: int = Field(ge=1, le=MAX_COLS)
    rows: int = Field(ge=1, le=MAX_ROWS)


class SessionSignal(RequestModel):
    name: str = Field(description="INT, TERM, HUP, QUIT, KILL, TSTP, STOP, CONT, WINCH, USR1, USR2")

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        name = value.upper().removeprefix("SIG")
        if name not in SIGNAL_NAMES:
            raise ValueError(f"unknown signal; use one of {', '.join(sorted(SIGNAL_NAMES))}")
        return name


class SessionKill(RequestModel):
    grace: float = Field(3.0, ge=0, le=60, description="Seconds between SIGHUP and SIGKILL")


class SessionInput(RequestModel):
    data: str = Field(max_length=MAX_INPUT, description="Text to type (UTF-8); \\r is Enter")


class OutputQuery(RequestModel):
    since: int = Field(0, ge=0, description="Return output from this offset")
    max: int = Field(65536, ge=1, le=1 << 20)
    wait: float = Field(0.0, ge=0, le=60, description="Wait this long for new output")


class SessionOutput(ResponseModel):
    offset: int = Field(description="Offset of the first byte returned (> since after a gap)")
    next: int = Field(description="Pass this as `since` next time")
    gap: bool = Field(description="True if bytes from `since` were no longer kept")
    exited: bool
    data: str = Field(description="The bytes, decoded as UTF-8 with replacement")


class ScreenText(ResponseModel):
    lines: list[str]
    cursor: tuple[int, int] = Field(description="(column, row), 0-based")
    alternate: bool
    cols: int
    rows: int
    offset: int = Field(description="The screen after every output byte before this offset")
