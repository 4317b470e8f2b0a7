"""POST /execute and the job routes, through the real client on real sockets."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Forbidden, NotFound, Unavailable, ValidationFailed
from tests.integration.execute_support import (
    Fifo,
    JobEnds,
    no_live_process_in_group,
    zombie_children,
)

pytestmark = pytest.mark.anyio


def configure(daemon: Services, **execution: object) -> None:
    def change(config: Config) -> Config:
        for name, value in execution.items():
            setattr(config.execution, name, value)
        return config

    daemon.config.update(change)


async def test_runs_argv_and_reports_everything(client: LoopsyClient, tmp_path: Path) -> None:
    result = await client.execute.run(
        ["sh", "-c", 'echo "out $FOO $(pwd)"; echo err >&2; exit 7'],
        cwd=str(tmp_path),
        env={"FOO": "bar"},
    )
    assert result.exit_code == 7 and result.signal is None
    assert result.stdout == f"out bar {tmp_path}\n"
    assert result.stderr == "err\n"
    assert not (result.timed_out or result.cancelled)
    assert not (result.stdout_truncated or result.stderr_truncated)
    assert result.pid and result.job_id and result.duration >= 0


async def test_shell_form_and_stdin(client: LoopsyClient) -> None:
    assert (await client.execute.run(shell="echo $((6 * 7)) | tr 4 x")).stdout == "x2\n"
    assert (await client.execute.run(["cat"], stdin="given\n")).stdout == "given\n"
    # Without stdin the command reads /dev/null: it does not hang waiting for input.
    assert (await client.execute.run(["cat"])).stdout == ""


async def test_signal_death_is_reported(client: LoopsyClient) -> None:
    result = await client.execute.run(["sh", "-c", "kill -9 $$"])
    assert result.exit_code is None and result.signal == 9


async def test_timeout_kills_the_whole_group(client: LoopsyClient) -> None:
    result = await client.execute.run(
        ["sh", "-c", "sleep 300 & sleep 300 & echo started; wait"], timeout=0.5
    )
    assert result.timed_out and not result.cancelled
    assert result.stdout == "started\n"
    assert result.signal == 15
    assert result.pid is not None and no_live_process_in_group(result.pid)
    assert zombie_children() == []


async def test_default_timeout_is_also_the_ceiling(client: LoopsyClient, daemon: Services) -> None:
    configure(daemon, default_timeout=0.5)
    result = await client.execute.run(["sleep", "300"])
    assert result.timed_out
    with pytest.raises(ValidationFailed) as over:
        await client.execute.run(["true"], timeout=1)
    assert "over the limit of 0.5 s" in over.value.message
    assert "execution.defaultTimeout" in str(over.value.hint)


async def test_background_leftovers_are_ended_with_the_command(client: LoopsyClient) -> None:
    result = await client.execute.run(["sh", "-c", "sleep 300 & echo bg $!"])
    assert result.exit_code == 0 and result.stdout.startswith("bg ")
    assert result.pid is not None and no_live_process_in_group(result.pid)


async def test_output_is_capped_but_drained(client: LoopsyClient, daemon: Services) -> None:
    configure(daemon, max_output=1024)
    result = await client.execute.run(
        ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a; echo done >&2"]
    )
    assert result.exit_code == 0  # the command was never stalled on a full pipe
    assert result.stdout == "a" * 1024 and result.stdout_truncated
    assert result.stderr == "done\n" and not result.stderr_truncated


async def test_list_and_cancel(client: LoopsyClient, daemon: Services, tmp_path: Path) -> None:
    fifo = Fifo(tmp_path)
    ends = JobEnds(daemon)
    async with anyio.create_task_group() as tg:
        results = []

        async def run() -> None:
            results.append(
                await client.execute.run(
                    ["sh", "-c", f"echo ready > {fifo.path}; sleep 300"], timeout=60
                )
            )

        tg.start_soon(run)
        assert await fifo.read() == "ready\n"
        [job] = await client.execute.jobs()
        assert job.argv[1:] == ["-c", f"echo ready > {fifo.path}; sleep 300"]
        assert job.caller == "local:local" and job.pid and job.cwd and job.timeout == 60
        cancelled = await client.execute.cancel(job.id)
        assert cancelled.id == job.id
    [result] = results
    assert result.cancelled and not result.timed_out and result.signal == 15
    assert job.pid is not None and no_live_process_in_group(job.pid)
    assert (await ends.next())["cancelled"] is True
    assert await client.execute.jobs() == []
    with pytest.raises(NotFound):
        await client.execute.cancel(job.id)
    ends.close()


async def test_concurrency_limit_is_a_clear_503(
    client: LoopsyClient, daemon: Services, tmp_path: Path
) -> None:
    configure(daemon, max_concurrent=2)
    fifos = [Fifo(tmp_path, f"f{i}") for i in range(2)]
    async with anyio.create_task_group() as tg:
        for fifo in fifos:
            tg.start_soon(
                client.execute.run, ["sh", "-c", f"echo up > {fifo.path}; exec sleep 300"]
            )
        for fifo in fifos:
            await fifo.read()
        with pytest.raises(Unavailable) as full:
            await client.execute.run(["true"])
        assert full.value.status == 503
        assert "execution.maxConcurrent" in full.value.message
        assert full.value.details == {"running": 2, "max_concurrent": 2}
        for job in await client.execute.jobs():
            await client.execute.cancel(job.id)
    assert (await client.execute.run(["true"])).exit_code == 0


async def test_callers_see_and_cancel_only_their_own_jobs(
    client: LoopsyClient, tcp_client: LoopsyClient, tmp_path: Path
) -> None:
    fifo = Fifo(tmp_path)
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.execute.run, ["sh", "-c", f"echo up > {fifo.path}; sleep 300"])
        await fifo.read()
        assert await tcp_client.execute.jobs() == []
        [job] = await client.execute.jobs()
        with pytest.raises(NotFound):
            await tcp_client.execute.cancel(job.id)
        await client.execute.cancel(job.id)


async def test_closing_the_connection_cancels_the_command(
    daemon: Services, tmp_path: Path
) -> None:
    fifo = Fifo(tmp_path)
    ends = JobEnds(daemon)
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    http = httpx.AsyncClient(transport=transport, base_url="http://localhost")
    async with http, anyio.create_task_group() as tg:

        async def post() -> None:
            body = {"argv": ["sh", "-c", f"echo up > {fifo.path}; sleep 300"]}
            await http.post("/api/v1/execute", json=body, timeout=60)

        tg.start_soon(post)
        await fifo.read()
        tg.cancel_scope.cancel()  # the client gives up: the connection closes
    record = await ends.next()
    assert record["cancelled"] is True
    ends.close()


async def test_refusals_and_missing_things_are_clean_4xx(
    client: LoopsyClient, daemon: Services, tmp_path: Path
) -> None:
    with pytest.raises(Forbidden) as refused:
        await client.execute.run(["rm", "-rf", str(tmp_path)])
    assert "execution.denylist" in refused.value.message
    assert "guard rail" in str(refused.value.hint)
    assert tmp_path.exists()
    with pytest.raises(NotFound, match="no executable program"):
        await client.execute.run(["no-such-program-here"])
    with pytest.raises(NotFound, match="no such directory"):
        await client.execute.run(["ls"], cwd=str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationFailed, match="not a directory"):
        await client.execute.run(["ls"], cwd=str(tmp_path / "file"))
    records = daemon.audit.tail(50)
    assert any(r.get("event") == "execute.refused" and r["program"] == "rm" for r in records)


async def test_allowlist_is_applied_live(client: LoopsyClient, daemon: Services) -> None:
    configure(daemon, allowlist=["echo"])
    assert (await client.execute.run(["echo", "hi"])).stdout == "hi\n"
    with pytest.raises(Forbidden, match=r"not on execution\.allowlist"):
        await client.execute.run(["ls"])
    with pytest.raises(Forbidden, match="`sh`"):
        await client.execute.run(shell="echo hi")


async def test_no_zombies_after_many_runs(client: LoopsyClient) -> None:
    for _ in range(10):
        await client.execute.run(["sh", "-c", "true & true"])
    assert zombie_children() == []


async def test_every_route_is_in_openapi(client: LoopsyClient) -> None:
    paths = (await client.openapi())["paths"]
    assert paths["/api/v1/execute"]["post"]["x-rate-limit-category"] == "execute"
    assert "get" in paths["/api/v1/execute/jobs"]
    assert "delete" in paths["/api/v1/execute/jobs/{job_id}"]
    assert paths["/api/v1/execute/stream"]["get"]["x-websocket"] is True


@pytest.mark.parametrize("job_id", ["..", "../../etc", "x" * 5000, "%00", "é", "-1"])
async def test_cancel_with_odd_ids_is_a_clean_404(client: LoopsyClient, job_id: str) -> None:
    with pytest.raises(NotFound) as missing:
        await client.execute.cancel(job_id)
    # "../../etc" holds a "/" (sent as %2F): no route matches it at all.
    assert missing.value.message.startswith(("no running job", "no such route"))
    assert await client.execute.jobs() == []


async def test_a_process_that_leaves_the_group_cannot_hold_the_request(
    client: LoopsyClient, tmp_path: Path
) -> None:
    """It keeps the output pipe open for ever; once the command is over, the daemon stops
    waiting for it (it is not ours to kill: it left with setsid)."""
    pidfile = tmp_path / "escaped"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & echo done"
    try:
        with anyio.fail_after(60):
            result = await client.execute.run(["sh", "-c", script])
        assert result.exit_code == 0 and result.stdout == "done\n"
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
