"""The Worker relay (relay/) under `wrangler dev` on loopback: one per test session, and
extra ones with other settings where a test needs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.worker.wrangler import WranglerDev


@pytest.fixture(scope="session")
def worker() -> Iterator[WranglerDev]:
    dev = WranglerDev()
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="session")
def worker_url(worker: WranglerDev) -> str:
    return worker.url
