"""Running a command through the daemon: the request, its result, the job list, and the
frames of the streaming form (``/api/v1/execute/stream``).

Stream frames (docs/PROTOCOL.md, "Execute stream"):

- client → daemon, text: the :class:`ExecRequest` (first frame), later optionally
  ``{"type": "cancel"}``;
- daemon → client, text: :class:`StreamStarted`, finally :class:`StreamExit`; or, if the
  request fails, :class:`StreamError` (the HTTP error body) before the 4xxx close;
- daemon → client, binary: one byte naming the stream (1 stdout, 2 stderr), then the bytes
  exactly as the command wrote them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.models import RequestModel, ResponseModel

STDOUT = 1
STDERR = 2
MAX_ARGS = 4096
MAX_ENV = 1024


def _no_nul(value: str, what: str) -> str:
    if "\x00" in value:
        raise ValueError(f"{what} must not contain NUL bytes")
    return value


class ExecRequest(RequestModel):
    """Exactly one of ``argv`` (run as is, no shell) or ``shell`` (run with ``/bin/sh -c``)."""

    argv: list[str] | None = Field(
        None,
        max_length=MAX_ARGS,
        description="Program and arguments, run without a shell; the program is looked up "
        "on PATH (of the merged environment) and run by its full path",
    )
    shell: str | None = Field(
        None,
        max_length=1 << 20,
        description="A shell command line, run with /bin/sh -c; only when asked for this way",
    )
    cwd: str | None = Field(
        None, description="Absolute working directory (default: the daemon user's home)"
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_ENV,
        description="Variables merged over the daemon's environment",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds before the command's process group is killed; at most "
        "execution.defaultTimeout, which applies when this is absent",
    )
    stdin: str | None = Field(
        None, description="Text given to the command on stdin (default: /dev/null)"
    )

    @field_validator("argv")
    @classmethod
    def _argv(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("argv must name a program (it is empty)")
        if not value[0]:
            raise ValueError("argv[0] (the program) must not be empty")
        for i, arg in enumerate(value):
            _no_nul(arg, f"argv[{i}]")
        return value

    @field_validator("shell")
    @classmethod
    def _shell(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("shell must be a command line (it is blank)")
        return value if value is None else _no_nul(value, "shell")

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: str | None) -> str | None:
        if value is None:
            return value
        _no_nul(value, "cwd")
        if not value.startswith("/"):
            raise ValueError("cwd must be an absolute path")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if not name or "=" in name or "\x00" in name:
                raise ValueError(f"env name {name!r} must be non-empty, without '=' or NUL")
            _no_nul(item, f"env[{name!r}]")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> ExecRequest:
        if (self.argv is None) == (self.shell is None):
            raise ValueError("give exactly one of argv (a list) or shell (a command line)")
        return self


class ExecStatus(ResponseModel):
    """How a command ended."""

    job_id: str
    pid: int | None = None
    exit_code: int | None = Field(None, description="None when a signal ended the command")
    signal: int | None = Field(None, description="The signal that ended the command, if any")
    duration: float = Field(description="Seconds from start to exit")
    timed_out: bool = Field(False, description="Killed because the timeout passed")
    cancelled: bool = Field(False, description="Killed because a client cancelled it")


class ExecResult(ExecStatus):
    """A finished command with its output, each stream capped at execution.maxOutput bytes
    (decoded as UTF-8, invalid bytes replaced; the stream form carries raw bytes)."""

    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False


class JobInfo(ResponseModel):
    id: str
    argv: list[str]
    caller: str
    started_at: float = Field(description="Unix time the command started")
    pid: int | None
    cwd: str
    timeout: float


class JobList(ResponseModel):
    jobs: list[JobInfo]


class StreamStarted(ResponseModel):
    type: Literal["started"] = "started"
    job_id: str
    pid: int | None


class StreamExit(ExecStatus):
    type: Literal["exit"] = "exit"


class StreamError(ResponseModel):
    """Why the request failed, as the HTTP API would say it (with the hint); the close
    code that follows is 4000 + ``status``."""

    type: Literal["error"] = "error"
    status: int
    error: dict[str, Any]


class StreamCancel(RequestModel):
    type: Literal["cancel"]


def encode_output(stream: int, data: bytes) -> bytes:
    return bytes((stream,)) + data


def decode_output(frame: bytes) -> tuple[int, bytes]:
    if not frame or frame[0] not in (STDOUT, STDERR):
        raise ProtocolError("an output frame must start with 1 (stdout) or 2 (stderr)")
    return frame[0], frame[1:]
