"""Phones and the relay link: the daemon API's models (``/api/v1/phones``, ``/api/v1/relay``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopsy.protocol.models import RequestModel, ResponseModel

DEFAULT_PAIR_TTL = 300.0
MAX_PAIR_TTL = 3600.0


class PairStart(RequestModel):
    ttl: float = Field(DEFAULT_PAIR_TTL, ge=10, le=MAX_PAIR_TTL, description="Token lifetime, s")


class PairOffer(ResponseModel):
    """What `loopsy mobile pair` shows: the URL (for the QR) and, separately, the code."""

    pair_id: str
    url: str = Field(description="Relay /app URL; the key material is in the #fragment")
    code: str = Field(description="6 digits, shown only on this machine")
    expires_at: float
    ttl: float


class PairState(ResponseModel):
    pair_id: str
    state: str = Field(description="pending, paired, burned or expired")
    attempts_left: int
    phone_id: str | None = None
    phone_name: str | None = None


class Phone(ResponseModel):
    phone_id: str
    name: str
    created_at: float
    last_seen: float | None = None
    connected: bool = False


class PhoneList(ResponseModel):
    phones: list[Phone]


class RelayConfigure(RequestModel):
    url: str = Field(max_length=2048)
    registration_secret: str | None = Field(None, max_length=512)
    renew: bool = Field(
        False,
        description="register again at this relay even before it refuses the current "
        "credential (after rotating a Worker's PAIR_TOKEN_SECRET); phones pair again",
    )


RelayState = Literal["off", "connecting", "connected", "rejected"]


class RelayStatus(ResponseModel):
    url: str | None
    connected: bool
    device_id: str | None = None
    connected_since: float | None = None
    phones_online: int = 0
    last_error: str | None = None
    state: RelayState = Field(
        "off",
        description="off (no relay.url), connecting (or retrying), connected, or rejected: "
        "the relay refused this daemon's device credential or its registration, and the "
        "link waits for `loopsy relay configure <url>` instead of retrying",
    )
