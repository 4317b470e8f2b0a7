"""Mesh and MCP benchmark: round trips to a paired peer, and what the MCP layer adds.

    python bench/mesh.py               # 7 runs of 200 calls each
    python bench/mesh.py --quick       # 1 run of 50 calls

Two daemons run in this process, each in its own temporary LOOPSY_HOME with its peer TLS
listener on 127.0.0.1, and are paired through the real pairing routes. Measured, after 20
warm-up calls, as medians (and p99) of back-to-back calls:

- ``status``: ``GET /status`` locally (unix socket) and on the peer (pinned TLS, peer
  credential): the transport cost of a peer call;
- ``execute``: ``loopsy_execute``'s path, ``client.execute.run(["true"])`` locally and on
  the peer (includes spawning the process): the issue's "peer execute round trip";
- ``context get``: the direct client call vs the same call as an MCP tool
  (``loopsy_context_get`` through the in-memory MCP client), locally and on the peer:
  the MCP overhead.

Targets (issue 7): peer execute round trip < 20 ms; MCP overhead < 10 ms over the API.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from mcp import Client  # noqa: E402

from loopsy.client import LoopsyClient  # noqa: E402
from loopsy.client.peers import peer_client  # noqa: E402
from loopsy.config import default_config, save_config  # noqa: E402
from loopsy.daemon.server import ServeOptions, serve  # noqa: E402
from loopsy.daemon.services import Services, create_services  # noqa: E402
from loopsy.home import LoopsyHome  # noqa: E402
from loopsy.mcp_server.server import create_server  # noqa: E402

WARMUP = 20


def make_home(root: Path, name: str) -> LoopsyHome:
    home = LoopsyHome(root / name)
    config = default_config(home)
    config.node.name = name
    config.mesh.listen, config.mesh.host, config.mesh.port = True, "127.0.0.1", 0
    config.mesh.health_interval = 3600.0
    config.rate_limits.execute = 1_000_000  # the limiter would otherwise be what we measure
    config.rate_limits.context = 1_000_000
    save_config(home, config)
    return home


async def pair(a: LoopsyClient, b: LoopsyClient, a_port: int) -> None:
    await a.peers.pairing_listen(60)
    await b.peers.pairing_connect("127.0.0.1", a_port)
    code = (await a.peers.pairing_status()).code
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.peers.pairing_decide, True)
        await b.peers.pairing_verify(code)


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def one_run(services: list[Services], count: int) -> dict[str, list[float]]:
    a, b = services
    results: dict[str, list[float]] = {}
    async with LoopsyClient.local(b.home) as local, await peer_client(local, "alpha") as remote:
        await local.context.set("bench", "x")
        await remote.context.set("bench", "x")
        async with Client(create_server(b.home)) as mcp:

            async def mcp_get(peer: str | None) -> None:
                args = {"key": "bench"} | ({"peer": peer} if peer else {})
                result = await mcp.call_tool("loopsy_context_get", args)
                assert not result.is_error, result.content

            cases: dict[str, Callable[[], Awaitable[Any]]] = {
                "status, local (unix socket)": local.status,
                "status, peer (pinned TLS)": remote.status,
                "execute true, local": lambda: local.execute.run(["true"]),
                "execute true, peer": lambda: remote.execute.run(["true"]),
                "context get, local, direct": lambda: local.context.get("bench"),
                "context get, local, MCP tool": lambda: mcp_get(None),
                "context get, peer, direct": lambda: remote.context.get("bench"),
                "context get, peer, MCP tool": lambda: mcp_get("alpha"),
            }
            for name, call in cases.items():
                results[name] = await timed(call, count)
    del a
    return results


async def main(runs: int, count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="lb-", dir="/tmp"))
    medians: dict[str, list[float]] = {}
    tails: dict[str, list[float]] = {}
    try:
        services = [create_services(make_home(root, n)) for n in ("alpha", "beta")]
        async with anyio.create_task_group() as tg:
            for s in services:
                await tg.start(
                    lambda task_status, s=s: serve(
                        s, ServeOptions(port=0), handle_signals=False, task_status=task_status
                    )
                )
            async with LoopsyClient.local(services[0].home) as a, LoopsyClient.local(
                services[1].home
            ) as b:
                assert services[0].mesh is not None
                await pair(a, b, services[0].mesh.port)
            for run in range(runs):
                result = await one_run(services, count)
                for name, samples in result.items():
                    medians.setdefault(name, []).append(statistics.median(samples))
                    tails.setdefault(name, []).append(p99(samples))
                print(f"run {run + 1}/{runs} done", file=sys.stderr)
            tg.cancel_scope.cancel()
        for s in services:
            s.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{runs} runs x {count} calls; median of run medians (ms), median of run p99s")
    print(f"| {'call':<32} | p50 ms | p99 ms |\n|---|---|---|")
    for name in medians:
        print(
            f"| {name:<32} | {statistics.median(medians[name]):6.2f} "
            f"| {statistics.median(tails[name]):6.2f} |"
        )
    for scope in ("local", "peer"):
        direct = statistics.median(medians[f"context get, {scope}, direct"])
        via = statistics.median(medians[f"context get, {scope}, MCP tool"])
        print(f"MCP overhead ({scope}): {via - direct:.2f} ms per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="1 run of 50 calls")
    args = parser.parse_args()
    runs, calls = (1, 50) if args.quick else (args.runs, args.calls)
    anyio.run(main, runs, calls, backend_options={"use_uvloop": True})
