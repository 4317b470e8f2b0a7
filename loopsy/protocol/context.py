"""The key/value context: what a client sends and what the daemon answers.

Keys are 1..512 bytes of UTF-8 without control characters; ``:``, ``/``, ``..`` and
spaces are ordinary characters (``inbox:<node>:<msg_id>`` is a typical key). Values are
UTF-8 strings (any characters, up to 1 MiB). Every write gives the entry a new
``version``, unique across the store and never reused, so compare-and-set cannot be
fooled by a key deleted and written again (ABA).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import Field, model_validator

from loopsy.protocol.errors import ValidationFailed
from loopsy.protocol.models import RequestModel, ResponseModel

# Ten years: a TTL past this is a mistake (milliseconds typed as seconds), not a plan.
MAX_TTL = 10 * 365 * 86400.0
MAX_PAGE = 1000
DEFAULT_PAGE = 100


class ContextPut(RequestModel):
    """Body of ``PUT /context/{key}``."""

    value: str = Field(description="The value: any UTF-8 string (up to 1 MiB)")
    ttl: Annotated[float, Field(gt=0, le=MAX_TTL)] | None = Field(
        None, description="Seconds until the entry expires; absent or null: never"
    )
    if_absent: bool = Field(
        False, description="Write only if the key has no live entry (else 409 conflict)"
    )
    if_version: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Write only if the live entry has this version (else 409 conflict)"
    )

    @model_validator(mode="after")
    def _one_condition(self) -> ContextPut:
        if self.if_absent and self.if_version is not None:
            raise ValueError("if_absent and if_version cannot be combined")
        return self


class ContextEntry(ResponseModel):
    key: str
    value: str
    version: int = Field(description="Changes on every write; unique across the store")
    updated_at: float = Field(description="Unix time of the last write")
    expires_at: float | None = Field(None, description="Unix time it expires; null: never")


class ContextListQuery(RequestModel):
    """Query of ``GET /context``."""

    prefix: str = Field("", description="Only keys starting with this string")
    after: str | None = Field(None, description="Only keys after this one (the page cursor)")
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE


class ContextPage(ResponseModel):
    """Live entries in key order (byte order of UTF-8)."""

    entries: list[ContextEntry]
    next_after: str | None = Field(
        None, description="Pass as ``after`` to get the next page; null when this is the last"
    )


class ContextDeleteQuery(RequestModel):
    """Query of ``DELETE /context/{key}``."""

    if_version: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Delete only if the live entry has this version (else 409 conflict)"
    )


def utf8_size(name: str, text: str) -> int:
    """Bytes of ``text`` in UTF-8; a lone surrogate (not encodable) is refused."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationFailed(f"{name} is not valid UTF-8 (a lone surrogate)") from None


def check_key_text(name: str, text: str) -> int:
    """Byte size of a key (or prefix); control characters (NUL, newline, ESC...) refused.

    The client checks too: a newline in a URL path matches no route, so the daemon could
    only answer 404 for it.
    """
    size = utf8_size(name, text)
    if not text.isprintable() and any(unicodedata.category(c) == "Cc" for c in text):
        raise ValidationFailed(
            f"{name} holds a control character; keys are printable text",
            hint="':' '/' '.' and spaces are fine; NUL, newlines and tabs are not",
        )
    return size
