"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.relay_process import RelayProcess


@pytest.fixture
def relay() -> Iterator[RelayProcess]:
    """A real `loopsy relay serve` process on 127.0.0.1 (registrations not throttled)."""
    process = RelayProcess("--register-rate", "100")
    process.start()
    yield process
    process.cleanup()
