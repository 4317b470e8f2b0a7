"""Relay forwarding, the Cloudflare Worker (in `wrangler dev`) against `loopsy relay serve`.

Wire level only (no daemon, no E2E crypto): a device link and a phone on loopback, the
device echoing. Echo latency is a 64-byte round trip phone -> relay -> device -> relay ->
phone; throughput is 64 KiB messages phone -> device, with at most 16 in flight (so the
relay's queues, not the kernel's, are what is measured). wrangler dev is workerd on this
machine behind miniflare's proxy, not Cloudflare's network: the numbers compare the two
relay implementations here, they do not predict production.

    .venv/bin/python -m bench.worker_relay [--rounds 2000] [--megabytes 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import anyio

from tests.conformance.relayclient import DATA, RelayClient, link_frame, recv_control, recv_link
from tests.relay_process import RelayProcess
from tests.worker.wrangler import WranglerDev


async def measure(url: str, rounds: int, megabytes: int) -> dict[str, float]:
    relay = RelayClient(url)
    device = await relay.register()
    phone_id, secret = await relay.paired_phone(device)
    link = await relay.device_link(device)
    phone = await relay.phone(device, phone_id, secret)
    await recv_link(link)  # OPEN
    await recv_control(phone)

    async def echo() -> None:
        for _ in range(rounds):
            _, c, body = await recv_link(link)
            await link.send(link_frame(DATA, c, body))

    latencies = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(echo)
        for _ in range(rounds):
            t = time.perf_counter()
            await phone.send(b"x" * 64)
            await phone.recv()
            latencies.append((time.perf_counter() - t) * 1000)

    chunk = b"y" * 65536
    count = megabytes * 16
    window = anyio.Semaphore(16)

    async def drain() -> None:
        for _ in range(count):
            await recv_link(link)
            window.release()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(drain)
        for _ in range(count):
            await window.acquire()
            await phone.send(chunk)
    seconds = time.perf_counter() - start
    await phone.close()
    await link.close()
    latencies.sort()
    return {
        "echo_p50_ms": round(statistics.median(latencies), 3),
        "echo_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "throughput_MBps": round(megabytes / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    results = {}
    python = RelayProcess("--register-rate", "1000")
    worker = WranglerDev()
    try:
        results["python relay"] = anyio.run(measure, python.start(), args.rounds, args.megabytes)
        results["worker (wrangler dev)"] = anyio.run(
            measure, worker.start(), args.rounds, args.megabytes
        )
    finally:
        python.cleanup()
        worker.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
