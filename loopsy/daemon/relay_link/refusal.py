"""A relay's refusal of this daemon: of its device credential (the relay's database was
reset, or a Cloudflare Worker's ``PAIR_TOKEN_SECRET`` was rotated) or of its registration
(a registration secret is missing or wrong). The link keeps it as its *rejected* state,
with the fix to show (``GET /relay``, ``loopsy relay status``, ``loopsy doctor``).
"""

from __future__ import annotations

from loopsy.protocol.errors import Unavailable


class Rejected(Unavailable):
    """The relay refused this daemon: its device credential, or its registration."""

    def __init__(self, url: str, message: str, hint: str, *, registering: bool) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.registering = registering


def credential_refused(url: str, device_id: str) -> Rejected:
    return Rejected(
        url,
        f"the relay at {url} no longer knows this daemon (device {device_id}): its database "
        "was reset, or the Cloudflare Worker's PAIR_TOKEN_SECRET was changed",
        f"`loopsy relay configure {url}` registers this daemon again; phones paired through "
        "this relay must then pair again (`loopsy mobile pair`)",
        registering=False,
    )


def registration_refused(url: str, detail: str) -> Rejected:
    return Rejected(
        url,
        f"the relay at {url} refused to register this daemon: {detail}",
        "the relay wants its registration secret: `LOOPSY_RELAY_REGISTRATION_SECRET=... "
        f"loopsy relay configure {url}`",
        registering=True,
    )
