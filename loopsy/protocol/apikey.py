"""The daemon's API key, as the local user rotates it."""

from __future__ import annotations

from pydantic import Field

from loopsy.protocol.models import ResponseModel


class ApiKey(ResponseModel):
    api_key: str = Field(description="The new key; the previous one no longer works")
