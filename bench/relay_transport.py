"""The "relay" transport for bench/pty.py: the same daemon and session as the "loopsy"
transport, but read by the reference phone through a real `loopsy relay serve` process,
end to end encrypted (KK channel + tunnel), as a phone would.

    python bench/pty.py --only raw,loopsy,relay
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench.pty_loopsy import Loopsy, LoopsyConn, open_gated
from bench.pty_transports import free_port
from loopsy.home import LoopsyHome


class LoopsyRelay(Loopsy):
    name = "loopsy via relay (E2E, reference phone)"
    kind = "async"

    def __init__(self) -> None:
        super().__init__()
        self.relay: subprocess.Popen[bytes] | None = None
        self.relay_url = ""
        self._phone: Any = None

    @staticmethod
    def available() -> str | None:
        return Loopsy.available()

    def start(self) -> None:
        self.relay, self.relay_url = start_relay(self.root / "relay", free_port())
        super().start()
        self._cli("relay", "configure", self.relay_url)

    async def _ensure_phone(self) -> Any:
        import anyio

        from loopsy.client import LoopsyClient
        from loopsy.client.phone import pair_phone
        from loopsy.client.tunnel import TunnelConnection

        if self._phone is None:
            async with LoopsyClient.local(LoopsyHome(self.home)) as local:
                with anyio.fail_after(30):
                    while not (await local.relay.status()).connected:
                        await anyio.sleep(0.05)
                offer = await local.phones.pair()
            identity = await pair_phone(offer.url, offer.code, name="bench phone")
            self._phone = LoopsyClient(TunnelConnection(identity))
            await self._phone.__aenter__()
        return self._phone

    async def open(self, command: str) -> LoopsyConn:
        phone = await self._ensure_phone()
        return await open_gated(phone, command, self.root)

    async def aclose(self) -> None:
        if self._phone is not None:
            await self._phone.__aexit__(None, None, None)
            self._phone = None

    def server_pids(self) -> list[int]:
        pids = super().server_pids()
        if self.relay is not None and self.relay.poll() is None:
            pids.append(self.relay.pid)
        return pids

    def stop(self) -> None:
        super().stop()
        stop_relay(self.relay)
        self.relay = None


def start_relay(data_dir: Any, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`loopsy relay serve` on 127.0.0.1:port; returns (process, URL) once it listens."""
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "loopsy", "relay", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--register-rate", "100000", *extra]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the relay did not start: {line!r}")
    return proc, url


def stop_relay(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
