"""Execute request validation and the stream's output frames."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.execute import STDERR, STDOUT, ExecRequest, decode_output, encode_output


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "exactly one of argv"),
        ({"argv": ["ls"], "shell": "ls"}, "exactly one of argv"),
        ({"argv": []}, "is empty"),
        ({"argv": [""]}, "must not be empty"),
        ({"argv": ["ls", "a\x00b"]}, "NUL"),
        ({"shell": "  "}, "blank"),
        ({"shell": "ls\x00"}, "NUL"),
        ({"argv": ["ls"], "cwd": "relative/dir"}, "absolute"),
        ({"argv": ["ls"], "cwd": "/tmp\x00"}, "NUL"),
        ({"argv": ["ls"], "env": {"A=B": "x"}}, "without '='"),
        ({"argv": ["ls"], "env": {"": "x"}}, "non-empty"),
        ({"argv": ["ls"], "env": {"A": "x\x00"}}, "NUL"),
        ({"argv": ["ls"], "timeout": 0}, "greater than 0"),
        ({"argv": ["ls"], "timeout": -1}, "greater than 0"),
        ({"argv": "ls"}, "valid list"),
        ({"argv": ["ls"], "bogus": 1}, "Extra inputs"),
    ],
)
def test_bad_requests(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExecRequest.model_validate(body, strict=True)


def test_output_frames_round_trip() -> None:
    assert decode_output(encode_output(STDOUT, b"\x00\xff data")) == (STDOUT, b"\x00\xff data")
    assert decode_output(encode_output(STDERR, b"")) == (STDERR, b"")
    for frame in (b"", b"\x03x", b"\x00"):
        with pytest.raises(ProtocolError):
            decode_output(frame)
