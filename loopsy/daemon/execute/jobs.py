"""The table of running commands: the concurrency limit, listing and cancelling.

A caller sees and cancels its own jobs; the local user (the unix socket) sees and cancels
every job, since every other kind of caller acts on that user's behalf.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from loopsy.daemon.auth import Caller
from loopsy.daemon.execute.runner import Run
from loopsy.protocol.errors import NotFound, Unavailable
from loopsy.protocol.execute import JobInfo
from loopsy.protocol.ids import JobId


def new_job_id() -> JobId:
    return JobId(secrets.token_hex(8))


@dataclass
class Job:
    id: JobId
    argv: list[str]
    caller: Caller
    cwd: str
    timeout: float
    started_at: float
    run: Run | None = None  # None until the process has started
    cancel_requested: bool = False

    def cancel(self) -> None:
        self.cancel_requested = True
        if self.run is not None:
            self.run.cancel()

    def attach(self, run: Run) -> None:
        self.run = run
        if self.cancel_requested:  # cancelled while it was starting
            run.cancel()

    def info(self) -> JobInfo:
        return JobInfo(
            id=self.id,
            argv=self.argv,
            caller=str(self.caller),
            started_at=self.started_at,
            pid=self.run.pid if self.run is not None else None,
            cwd=self.cwd,
            timeout=self.timeout,
        )


class JobTable:
    def __init__(self, limit: Callable[[], int]) -> None:
        """``limit()`` is execution.maxConcurrent, read at each admission (it may change)."""
        self._limit = limit
        self._jobs: dict[JobId, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def admit(self, job: Job) -> None:
        """Add ``job``, or raise 503 when execution.maxConcurrent commands already run."""
        limit = self._limit()
        if len(self._jobs) >= limit:
            raise Unavailable(
                f"{limit} commands are already running (execution.maxConcurrent)",
                hint="wait for one to finish, cancel one (`loopsy jobs`), or raise "
                "execution.maxConcurrent in config.yaml",
                details={"running": len(self._jobs), "max_concurrent": limit},
            )
        self._jobs[job.id] = job

    def remove(self, job_id: JobId) -> None:
        self._jobs.pop(job_id, None)

    def visible_to(self, caller: Caller) -> list[Job]:
        jobs = sorted(self._jobs.values(), key=lambda j: j.started_at)
        return [job for job in jobs if _may_see(caller, job)]

    def get(self, job_id: str, caller: Caller) -> Job:
        job = self._jobs.get(JobId(job_id))
        if job is None or not _may_see(caller, job):
            raise NotFound(f"no running job {job_id!r}", hint="`loopsy jobs` lists running jobs")
        return job


def _may_see(caller: Caller, job: Job) -> bool:
    return caller.kind == "local" or caller == job.caller
