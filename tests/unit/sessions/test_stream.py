"""The session stream codec against the golden vectors (the phone's TypeScript reads the
same file), and hostile frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopsy.protocol import stream
from loopsy.protocol.errors import PayloadTooLarge, ProtocolError

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "stream.json").read_text())


def _fields(frame: stream.Frame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in frame.__dataclass_fields__:  # type: ignore[union-attr]
        value = getattr(frame, name)
        if isinstance(value, bytes):
            out[f"{name}_hex"] = value.hex()
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_vector_decodes_and_reencodes(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["hex"])
    frame = stream.decode(raw)
    assert stream.TYPE_NAMES[raw[0]] == case["type"]
    assert _fields(frame) == case["fields"]
    assert stream.encode(frame) == raw


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_invalid_vector_is_refused_with_a_reason(case: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=case["error"]):
        stream.decode(bytes.fromhex(case["hex"]))


def test_vectors_cover_every_client_and_server_type() -> None:
    types = {case["type"] for case in VECTORS["valid"]}
    expected = {stream.TYPE_NAMES[t] for t in stream.SERVER_TYPES | stream.CLIENT_TYPES}
    assert types == expected


def test_client_may_not_send_server_or_holder_frames() -> None:
    for frame in (
        stream.Output(0, b"x"),
        stream.Exit(0, stream.EXITED, 0),
        stream.Control(stream.CONTROL, {"op": "shutdown"}),
    ):
        with pytest.raises(ProtocolError, match="not sent by clients"):
            stream.decode_client(stream.encode(frame))
    assert stream.decode_client(stream.encode(stream.Ack(3))) == stream.Ack(3)


def test_oversize_input_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        stream.decode(bytes([stream.INPUT]) + b"x" * (stream.MAX_INPUT + 1))
    with pytest.raises(PayloadTooLarge):
        stream.encode(stream.Input(b"x" * (stream.MAX_INPUT + 1)))
    assert stream.decode(bytes([stream.INPUT]) + b"x" * stream.MAX_INPUT)


def test_encode_refuses_out_of_range_values() -> None:
    with pytest.raises(ProtocolError):
        stream.encode(stream.Resize(0, 10))
    with pytest.raises(ProtocolError):
        stream.encode(stream.Signal("SEGV"))


def test_control_frames_must_be_json_objects() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        stream.decode(bytes([stream.CONTROL]) + b"{nope")
    with pytest.raises(ProtocolError, match="JSON object"):
        stream.decode(bytes([stream.CONTROL]) + b"[1]")


def test_splitter_reassembles_frames_split_anywhere() -> None:
    frames = [stream.encode(stream.Output(i, bytes([i]) * i)) for i in range(1, 40)]
    wire = b"".join(stream.prefixed(f) for f in frames)
    for step in (1, 3, 7, 1000):
        splitter = stream.FrameSplitter()
        got: list[bytes] = []
        for start in range(0, len(wire), step):
            got += splitter.feed(wire[start : start + step])
        assert got == frames
        assert splitter.pending == 0


def test_splitter_gives_whole_frames_as_bytes_from_views_and_aligned_reads() -> None:
    """Reads that end on a frame boundary take the path that cuts frames straight out of
    the read; a memoryview (the holder's receive buffer) is copied, never kept."""
    frames = [stream.encode(stream.Output(i, bytes([i]) * (i * 97))) for i in range(1, 30)]
    pieces = [stream.prefixed(f) for f in frames]
    splitter = stream.FrameSplitter()
    reused = bytearray(1 << 16)
    got: list[bytes] = []
    for first, second in zip(pieces[::2], [*pieces[1::2], b""], strict=True):
        wire = first + second[: len(second) // 2]  # one aligned start, one cut frame
        rest = second[len(second) // 2 :]
        for chunk in (wire, rest):
            reused[: len(chunk)] = chunk
            got += splitter.feed(memoryview(reused)[: len(chunk)])
            reused[: len(chunk)] = bytes(len(chunk))  # the buffer is overwritten at once
    assert got == frames
    assert all(type(frame) is bytes for frame in got)
    assert splitter.pending == 0


def test_splitter_refuses_a_huge_length_before_buffering_it() -> None:
    splitter = stream.FrameSplitter(max_frame=1024)
    with pytest.raises(PayloadTooLarge):
        splitter.feed(stream.length_prefix(1025) + b"x")


def test_exit_returncode_like_subprocess() -> None:
    assert stream.Exit(0, stream.EXITED, 3).returncode == 3
    assert stream.Exit(0, stream.SIGNALLED, 9).returncode == -9
    assert stream.Exit(0, stream.LOST, 0).returncode is None
