"""Jobs (AIStore's xactions): multi-object work with an id, progress counters and abort."""
from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import trio

from .errors import AisError, JobNotFound

log = logging.getLogger("aisfs.jobs")
KEEP_FINISHED = 1000


@dataclass
class Job:
    kind: str
    bucket: str
    dst_bucket: str = ""
    id: str = field(default_factory=lambda: secrets.token_urlsafe(6).replace("-", "x").replace("_", "y"))
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int = 0
    objs: int = 0
    bytes: int = 0
    total: int = -1                     # objects expected, when known
    errors: list[str] = field(default_factory=list)
    aborted: bool = False
    result: dict[str, Any] | None = None   # what a job that computes something found (summary-bck)
    done: trio.Event = field(default_factory=trio.Event, repr=False)
    scope: trio.CancelScope = field(default_factory=trio.CancelScope, repr=False)

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def error(self, msg: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(msg)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "bucket": self.bucket, "dst_bucket": self.dst_bucket,
                "start_time": self.start_ns, "end_time": self.end_ns, "running": self.running,
                "finished": not self.running, "aborted": self.aborted, "objs": self.objs, "bytes": self.bytes,
                "total": self.total, "err_count": len(self.errors), "errors": self.errors}


class Jobs:
    """Registry of running and recently finished jobs; each runs as a task of the engine's nursery."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._nursery: trio.Nursery | None = None

    def attach(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery

    def start(self, job: Job, work: Callable[[Job], Awaitable[None]]) -> Job:
        assert self._nursery is not None, "engine is not open"
        self._jobs[job.id] = job
        self._trim()
        self._nursery.start_soon(self._run, job, work)
        return job

    def finished(self, job: Job) -> Job:
        """Register a job that completed synchronously (e.g. a metadata-only rename)."""
        job.end_ns = time.time_ns()
        job.done.set()
        self._jobs[job.id] = job
        self._trim()
        return job

    async def _run(self, job: Job, work: Callable[[Job], Awaitable[None]]) -> None:
        try:
            with job.scope:
                await work(job)
            if job.scope.cancelled_caught:
                job.aborted = True
        except AisError as e:
            job.error(e.message)
        except Exception as e:  # a job's failure is reported on the job, never crashes the server
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.error(f"{type(e).__name__}: {e}")
        finally:
            job.end_ns = time.time_ns()
            job.done.set()

    def get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(f"job {job_id!r} not found") from None

    def list(self, *, kind: str = "", bucket: str = "", running_only: bool = False) -> list[Job]:
        return [j for j in self._jobs.values()
                if (not kind or j.kind == kind) and (not bucket or bucket in (j.bucket, j.dst_bucket))
                and (not running_only or j.running)]

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        job = self.get(job_id)
        with trio.move_on_after(timeout if timeout is not None else float("inf")):
            await job.done.wait()
        return job

    def abort(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.running:
            job.aborted = True
            job.scope.cancel()
        return job

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if not j.running]
        for k in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[k]
