"""The execute capability as the routes use it: check a request, admit it under the
concurrency limit, run it, audit it.

The timeout rule: ``execution.defaultTimeout`` is both the default and the ceiling. A
request may ask for less, never more (422 with a hint), so no request runs unbounded and
the owner of the machine, not the caller, decides how long a command may take.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio

from loopsy.config import Config
from loopsy.daemon.audit import AuditLog
from loopsy.daemon.auth import Caller
from loopsy.daemon.execute.jobs import Job, JobTable, new_job_id
from loopsy.daemon.execute.policy import Refused, approve
from loopsy.daemon.execute.runner import Outcome, Run, RunSpec, Sink
from loopsy.protocol.errors import NotFound, ValidationFailed
from loopsy.protocol.execute import ExecRequest, ExecResult, ExecStatus


class ConfigView(Protocol):
    """The live configuration (``services.config``), re-read at every request."""

    @property
    def current(self) -> Config: ...


# Runs beside the command until it ends (and is then cancelled); it may cancel the job,
# e.g. when the client goes away.
Watcher = Callable[[Job], Coroutine[Any, Any, None]]


class Executor:
    def __init__(
        self,
        config: ConfigView,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
        environ: dict[str, str] | None = None,
    ) -> None:
        self._config = config
        self._audit = audit
        self._clock = clock
        self._environ = environ
        self.jobs = JobTable(lambda: config.current.execution.max_concurrent)

    async def prepare(self, request: ExecRequest, caller: Caller) -> RunSpec:
        """Validate and check ``request``; raise a 4xx error, or return what to run."""
        execution = self._config.current.execution
        ceiling = execution.default_timeout
        if request.timeout is not None and request.timeout > ceiling:
            raise ValidationFailed(
                f"timeout {request.timeout:g} s is over the limit of {ceiling:g} s",
                hint="ask for less, or raise execution.defaultTimeout in config.yaml",
            )
        env = {**(os.environ if self._environ is None else self._environ), **request.env}
        cwd = request.cwd or str(Path.home())

        def check() -> list[str]:
            _check_cwd(cwd)
            return approve(
                argv=request.argv,
                shell=request.shell,
                cwd=cwd,
                env=env,
                stdin=request.stdin,
                denylist=execution.denylist,
                allowlist=execution.allowlist,
            )

        try:
            # stat, realpath and script reads may block: keep them off the event loop.
            argv = await anyio.to_thread.run_sync(check)
        except Refused as exc:
            self._audit.event(caller, "execute.refused", program=_program(request))
            raise exc from None
        return RunSpec(
            argv=argv,
            cwd=cwd,
            env=env,
            timeout=request.timeout or ceiling,
            max_output=execution.max_output,
            stdin=request.stdin.encode() if request.stdin is not None else None,
        )

    @asynccontextmanager
    async def started(self, spec: RunSpec, caller: Caller) -> AsyncIterator[Job]:
        """Admit (or 503) and start the command; the job leaves the table on exit."""
        job = Job(
            id=new_job_id(),
            argv=spec.argv,
            caller=caller,
            cwd=spec.cwd,
            timeout=spec.timeout,
            started_at=self._clock(),
        )
        self.jobs.admit(job)
        try:
            job.attach(await Run.start(spec))
            yield job
        finally:
            self.jobs.remove(job.id)

    async def run(
        self,
        spec: RunSpec,
        caller: Caller,
        *,
        sink: Sink | None = None,
        on_start: Callable[[Job], Awaitable[None]] | None = None,
        watcher: Watcher | None = None,
    ) -> tuple[Job, Outcome]:
        async with self.started(spec, caller) as job:
            assert job.run is not None
            if on_start is not None:
                await on_start(job)
            async with anyio.create_task_group() as tg:
                if watcher is not None:
                    tg.start_soon(watcher, job)
                outcome = await job.run.wait(sink)
                tg.cancel_scope.cancel()
        self._audit.event(
            caller,
            "execute",
            job=job.id,
            program=os.path.basename(spec.argv[0]),
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            timed_out=outcome.timed_out,
            cancelled=outcome.cancelled,
            ms=round(outcome.duration * 1000, 1),
        )
        return job, outcome


def status_of(job: Job, outcome: Outcome) -> dict[str, object]:
    return ExecStatus(
        job_id=job.id,
        pid=job.run.pid if job.run is not None else None,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        duration=round(outcome.duration, 6),
        timed_out=outcome.timed_out,
        cancelled=outcome.cancelled,
    ).model_dump()


def result_of(job: Job, outcome: Outcome) -> ExecResult:
    return ExecResult(
        **status_of(job, outcome),
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        stdout_truncated=outcome.stdout.truncated,
        stderr_truncated=outcome.stderr.truncated,
    )


def _check_cwd(cwd: str) -> None:
    if not os.path.exists(cwd):
        raise NotFound(f"no such directory: {cwd}", hint="cwd must be an existing directory")
    if not os.path.isdir(cwd):
        raise ValidationFailed(f"cwd is not a directory: {cwd}")
    if not os.access(cwd, os.X_OK):
        raise ValidationFailed(f"cannot enter directory: {cwd} (permission denied)")


def _program(request: ExecRequest) -> str:
    return os.path.basename(request.argv[0]) if request.argv else "sh"
