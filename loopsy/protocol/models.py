"""The base classes of every API message model.

Models for each concept live beside it in ``loopsy/protocol/`` (``status.py``,
``context.py``, ...); the daemon validates with them and the client parses with them, so
the schema is written once. JSON field names are snake_case.

- :class:`RequestModel` (bodies and query strings) refuses unknown fields, so a misspelt
  field is an error naming it.
- :class:`ResponseModel` ignores unknown fields, so an older client still reads a newer
  daemon's answer.
"""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Ok(ResponseModel):
    ok: bool = True
