"""Shared fixtures: a private LOOPSY_HOME per test, an in-process daemon on real sockets,
and a runner for the real ``loopsy`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config, default_config, save_config
from loopsy.daemon.server import ServeOptions, serve
from loopsy.daemon.services import Services, create_services
from loopsy.home import LoopsyHome
from tests.relay_process import RelayProcess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopsyHome]:
    """A fresh, initialised LOOPSY_HOME short enough for a unix socket path."""
    root = Path(tempfile.mkdtemp(prefix="lh-", dir="/tmp"))
    loopsy_home = LoopsyHome(root / "home")
    save_config(loopsy_home, default_config(loopsy_home))
    monkeypatch.setenv("LOOPSY_HOME", str(loopsy_home.root))
    yield loopsy_home
    from tests.helpers.sessions import kill_holders

    kill_holders(loopsy_home)  # session holders outlive daemons by design
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def config(home: LoopsyHome) -> Config:
    from loopsy.config import load_config

    return load_config(home)


@pytest.fixture
async def daemon(home: LoopsyHome, anyio_backend: str) -> AsyncIterator[Services]:
    """The daemon in this process, serving on its unix socket and a free TCP port."""
    services = create_services(home)
    async with anyio.create_task_group() as tg:
        await tg.start(
            lambda task_status: serve(
                services, ServeOptions(port=0), handle_signals=False, task_status=task_status
            )
        )
        try:
            yield services
        finally:
            tg.cancel_scope.cancel()
    services.close()


@pytest.fixture
async def client(daemon: Services) -> AsyncIterator[LoopsyClient]:
    """A client on the in-process daemon's unix socket (caller: local)."""
    async with LoopsyClient.local(daemon.home) as c:
        yield c


@pytest.fixture
async def tcp_client(daemon: Services) -> AsyncIterator[LoopsyClient]:
    """A client on the in-process daemon's TCP port with the API key (caller: key)."""
    async with LoopsyClient.tcp(
        "127.0.0.1", daemon.listening.tcp_port, daemon.config.current.auth.api_key
    ) as c:
        yield c


class Cli:
    """Runs the real ``loopsy`` command in a subprocess with this test's LOOPSY_HOME."""

    def __init__(self, home: LoopsyHome) -> None:
        self.home = home
        self.env = {**os.environ, "LOOPSY_HOME": str(home.root), "PYTHONUNBUFFERED": "1"}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "loopsy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"loopsy {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result


@pytest.fixture
def cli(home: LoopsyHome) -> Iterator[Cli]:
    runner = Cli(home)
    yield runner
    # Never leave a daemon behind, whatever the test did.
    subprocess.run(
        [sys.executable, "-m", "loopsy", "stop"], env=runner.env, capture_output=True, timeout=30
    )


@pytest.fixture
def relay() -> Iterator[RelayProcess]:
    """A real `loopsy relay serve` process on 127.0.0.1 (registrations not throttled).
    (tests/conformance has a `relay` of its own: a client of whichever relay is tested.)"""
    process = RelayProcess("--register-rate", "100")
    process.start()
    yield process
    process.cleanup()
