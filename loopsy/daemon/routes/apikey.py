"""Rotate the API key: ``POST /auth/api-key``, on the machine itself only.

The new key is saved to config.yaml (atomically, 0600) and the authenticator switches at
once: the old key fails on the very next request, with no restart.
"""

from __future__ import annotations

from loopsy.config import Config, new_secret
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.protocol.apikey import ApiKey


@endpoint(
    "POST",
    "/auth/api-key",
    summary="Generate a new API key (the old one stops working at once)",
    response=ApiKey,
    callers=("local",),
    tags=("auth",),
)
async def rotate_api_key(call: Call[None, None]) -> ApiKey:
    """Only over the unix socket: a holder of the key must not be able to lock its owner
    out. Answers with the new key; auth.allowedKeys are not touched."""
    key = new_secret()

    def change(config: Config) -> Config:
        config.auth.api_key = key
        return config

    call.services.config.update(change)
    call.services.audit.event(call.caller, "api-key.rotated")
    return ApiKey(api_key=key)


routes = [rotate_api_key]
