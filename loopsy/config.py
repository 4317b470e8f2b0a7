"""``config.yaml``: the schema, its defaults, loading with errors that name the key, saving.

The file is YAML with camelCase keys (``auth.apiKey``), written 0600 and atomically.
Every section forbids unknown keys and checks types strictly, so a typo is an error that
names the key rather than a silently ignored setting.
"""

from __future__ import annotations

import secrets
import socket
import uuid
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from loopsy.home import LoopsyHome, write_atomic
from loopsy.protocol.errors import ConfigError

DEFAULT_PORT = 19532
DEFAULT_MESH_PORT = 19533
DEFAULT_DENYLIST = ["rm", "rmdir", "format", "mkfs", "dd", "shutdown", "reboot"]


def new_secret() -> str:
    """32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, populate_by_name=True, validate_assignment=True
    )


class NodeConfig(Section):
    id: str = Field(min_length=8, max_length=64)
    name: str = Field(min_length=1, max_length=63)


class ServerConfig(Section):
    port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_PORT
    host: str = "127.0.0.1"


class AuthConfig(Section):
    api_key: str = Field(alias="apiKey", min_length=32)
    # label -> "sha256:<hex>" of an extra API key accepted on TCP (keys are hashed at rest)
    allowed_keys: dict[str, str] = Field(default_factory=dict, alias="allowedKeys")

    @field_validator("allowed_keys")
    @classmethod
    def _hashed(cls, value: dict[str, str]) -> dict[str, str]:
        for label, digest in value.items():
            hex_part = digest.removeprefix("sha256:")
            if not digest.startswith("sha256:") or len(hex_part) != 64 or not _is_hex(hex_part):
                raise ValueError(
                    f"allowedKeys.{label} must be 'sha256:' and 64 hex digits "
                    "(the hash of the key, never the key itself)"
                )
        return value


class RelayConfig(Section):
    url: str | None = None
    # Sent when registering with a relay that requires one (the relay operator's gate).
    registration_secret: str | None = Field(None, alias="registrationSecret")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("relay.url must start with https:// (or http:// for a local relay)")
        return value.rstrip("/") if value else value


class ExecutionConfig(Section):
    denylist: list[str] = Field(default_factory=lambda: list(DEFAULT_DENYLIST))
    # When set, only these program names may run: a real restriction, unlike the denylist.
    allowlist: list[str] | None = None
    max_concurrent: Annotated[int, Field(ge=1, le=1000)] = Field(10, alias="maxConcurrent")
    default_timeout: Annotated[float, Field(gt=0, le=86400)] = Field(300, alias="defaultTimeout")
    max_output: Annotated[int, Field(ge=1024, le=1 << 30)] = Field(1 << 20, alias="maxOutput")

    @field_validator("default_timeout", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TransferConfig(Section):
    allowed_paths: list[str] = Field(alias="allowedPaths")
    denied_paths: list[str] = Field(alias="deniedPaths")
    max_file_size: Annotated[int, Field(ge=1, le=1 << 40)] = Field(1 << 30, alias="maxFileSize")


class MeshConfig(Section):
    """The LAN mesh: a TLS listener for paired peers, mDNS, health checks."""

    # The peer listener runs with `loopsy start --lan`, or always when `listen` is true.
    listen: bool = False
    host: str = "0.0.0.0"  # noqa: S104 (only used when the mesh is on)
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_MESH_PORT
    discovery: bool = True
    health_interval: Annotated[float, Field(ge=0.2, le=3600)] = Field(
        15.0, alias="healthInterval"
    )

    @field_validator("health_interval", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SessionsConfig(Section):
    """PTY sessions: output kept for resume, flow control, recording, approvals."""

    ring_bytes: Annotated[int, Field(ge=64 * 1024, le=256 << 20)] = Field(
        1 << 20, alias="ringBytes"
    )
    scrollback: Annotated[int, Field(ge=0, le=100_000)] = 1000
    high_water: Annotated[int, Field(ge=100 * 1024, le=64 << 20)] = Field(
        256 * 1024, alias="highWater"
    )
    low_water: Annotated[int, Field(ge=1024, le=32 << 20)] = Field(64 * 1024, alias="lowWater")
    resize_debounce_ms: Annotated[int, Field(ge=0, le=2000)] = Field(
        50, alias="resizeDebounceMs"
    )
    record: bool = False
    record_max_bytes: Annotated[int, Field(ge=64 * 1024, le=1 << 40)] = Field(
        50 << 20, alias="recordMaxBytes"
    )
    approval_ttl: Annotated[int, Field(ge=10, le=86400)] = Field(900, alias="approvalTtl")

    @model_validator(mode="after")
    def _marks(self) -> SessionsConfig:
        if self.low_water >= self.high_water:
            raise ValueError("sessions.lowWater must be below sessions.highWater")
        return self


class CustomCommand(Section):
    """A command pinned in the agent list: `loopsy agents pin NAME -- argv...`."""

    label: str = Field(min_length=1, max_length=80)
    argv: list[str] = Field(min_length=1, max_length=256)
    cwd: str | None = None


class AgentsConfig(Section):
    custom: dict[str, CustomCommand] = Field(default_factory=dict)


class RateLimitsConfig(Section):
    """Requests per minute, per caller, per category."""

    execute: Annotated[int, Field(ge=1)] = 30
    transfer: Annotated[int, Field(ge=1)] = 10
    context: Annotated[int, Field(ge=1)] = 60
    sessions: Annotated[int, Field(ge=1)] = 60


class Config(Section):
    node: NodeConfig
    server: ServerConfig = Field(default_factory=ServerConfig)
    auth: AuthConfig
    relay: RelayConfig = Field(default_factory=RelayConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    transfer: TransferConfig
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig, alias="rateLimits")
    mesh: MeshConfig = Field(default_factory=MeshConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)

    def to_yaml(self) -> str:
        data = self.model_dump(by_alias=True, mode="json")
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def default_config(home: LoopsyHome, *, node_id: str | None = None) -> Config:
    user_home = str(Path.home())
    return Config(
        node=NodeConfig(id=node_id or uuid.uuid4().hex, name=_default_node_name()),
        auth=AuthConfig(api_key=new_secret()),
        transfer=TransferConfig(
            allowed_paths=[user_home],
            denied_paths=[f"{user_home}/.ssh", f"{user_home}/.gnupg", str(home.root)],
        ),
    )


def load_config(home: LoopsyHome) -> Config:
    path = home.config_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no configuration at {path}", hint="run `loopsy init` to create one"
        ) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "config.yaml") -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of sections (server, auth, ...)")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}", hint=_FIX_HINT) from None


def save_config(home: LoopsyHome, config: Config) -> None:
    home.ensure()
    write_atomic(home.config_file, config.to_yaml(), mode=0o600)


_FIX_HINT = "fix the key in config.yaml, or run `loopsy init --force` to start from defaults"


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the dotted key: ``auth.apiKey: field required``."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            parts.append(f"{key}: unknown key")
        elif kind == "missing":
            parts.append(f"{key}: required key is missing")
        else:
            parts.append(f"{key}: {err['msg']} (got {_short(err.get('input'))})")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _default_node_name() -> str:
    name = socket.gethostname().split(".")[0] or "loopsy"
    return name[:63]
