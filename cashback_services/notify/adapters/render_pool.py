"""Merchant templates render here: in a small pool of worker processes, never on the
event loop, each render with a time budget and an output cap (issue 15, points 1-2).

Inside a worker a render runs under SIGPROF (`setitimer(ITIMER_PROF)`): the budget is the
CPU time the render itself uses, so a loaded machine (the worker waiting for a core) does
not fail an honest template, while a hostile loop, which burns CPU, is stopped just the
same. When the budget is spent the signal handler raises between two bytecodes of the template's loop, so nested loops,
recursive macros and slow filters stop there. Should a render be stuck where signals are
not looked at (one long C call), the event loop's own deadline (the budget times the
renders asked plus a grace) ends the wait, the pool's processes are killed and a fresh
pool takes the next renders. The output cap is in the domain's `render` (it stops a loop
writing output as soon as it passes the cap). So a hostile template costs at most its
budget on one worker process, and the process serving gRPC never runs template code.

Workers are spawned (not forked: the parent runs gRPC threads)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cashback_kit.errors import InvalidArgument, Unavailable
from cashback_services.notify.domain.rendering import Rendered, RenderJob, render

log = logging.getLogger("cashback.notify.render")
DEFAULT_BUDGET = 0.5  # seconds per render: real templates take about a millisecond
DEFAULT_WORKERS = 2
GRACE = 2.0  # seconds past the budget before a worker is taken as stuck and killed


class _OverBudget(BaseException):
    """BaseException, so no `except Exception` in template machinery swallows it."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise _OverBudget()


def _render_jobs(jobs: Sequence[RenderJob], budget: float, stop_at_failure: bool = False) -> list[Rendered | str]:
    """In the worker: each job's Rendered, or the reason it failed (a plain string,
    so nothing unpicklable crosses back). With `stop_at_failure`, the jobs after a
    failure are not rendered (they fail with the same reason)."""
    signal.signal(signal.SIGPROF, _alarm)
    out: list[Rendered | str] = []
    for job in jobs:
        if stop_at_failure and out and isinstance(out[-1], str):
            out.append(out[-1])
            continue
        try:
            signal.setitimer(signal.ITIMER_PROF, budget)
            try:
                out.append(render(job.channel, job.ctx, job.body, job.subject, footer=job.footer))
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _OverBudget:
            out.append(f"the template took longer than {budget:g} s to render")
        except InvalidArgument as exc:
            out.append(exc.message)
        except Exception as exc:  # whatever else the template caused: that render fails, the worker lives
            out.append(f"the template does not render: {type(exc).__name__}")
    return out


def _watch_parent(parent: int) -> None:
    # A worker whose notify process was killed (kill -9: no shutdown) would wait on its task
    # queue for ever; it leaves when its parent is gone.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _warm(parent: int) -> None:
    # Load the template machinery once per worker, not on its first render: the modules, and
    # each language's locale data and calendars (Babel reads them from disk on first use).
    from cashback_services.notify.domain import rendering

    for locale in ("fa-IR", "ar-SA", "en"):
        for channel in ("sms", "email"):
            rendering.render(channel, rendering.sample_context("credited", locale, hijri_beside=True))

    # The parent's pid as the parent saw it: a worker spawned while its parent was exiting
    # finds it gone at once.
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _ready() -> bool:
    return True


class TemplateRenderer:
    def __init__(self, budget: float = DEFAULT_BUDGET, workers: int = DEFAULT_WORKERS) -> None:
        self.budget, self.workers = budget, workers
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise Unavailable("notify is shutting down: no more renders")
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm, initargs=(os.getpid(),))
            # Start every worker now (one trivial task each, submitted together): spawned on demand,
            # the second would start (about a second) only when the first is busy, which is just
            # when a hostile render holds it.
            for _ in range(self.workers):
                self._pool.submit(_ready)
        return self._pool

    def start(self) -> None:
        """Start the workers now rather than at the first render."""
        self._executor()

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        if self._pool is pool:
            self._pool = None

    async def render_all(self, jobs: Sequence[RenderJob], stop_at_failure: bool = False) -> list[Rendered | str]:
        """Each job's Rendered or its failure reason (a string). Never runs template code here."""
        if not jobs:
            return []
        for attempt in (1, 2):
            pool = self._executor()
            future = asyncio.wrap_future(pool.submit(_render_jobs, list(jobs), self.budget, stop_at_failure))
            try:
                return await asyncio.wait_for(future, self.budget * len(jobs) + GRACE)
            except TimeoutError:
                log.warning("a render passed its hard deadline; restarting the render workers")
                self._kill(pool)
                return [f"the template took longer than {self.budget:g} s to render"] * len(jobs)
            except BrokenProcessPool:
                # Another render's stuck worker was killed under this one: once more on a fresh pool.
                if self._pool is pool:
                    self._pool = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def render(self, job: RenderJob) -> Rendered:
        """One render; a failure is InvalidArgument on template.body, with the reason."""
        (result,) = await self.render_all([job])
        if isinstance(result, str):
            raise InvalidArgument(result, field="template.body")
        return result

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_shared: list[TemplateRenderer] = []


def shared_renderer() -> TemplateRenderer:
    """The process's renderer (bootstrap sets its budget; otherwise the defaults)."""
    if not _shared or _shared[0]._closed:
        _shared[:] = [TemplateRenderer()]
    return _shared[0]


def configure(budget: float, workers: int = DEFAULT_WORKERS) -> TemplateRenderer:
    for old in _shared:
        old.close()
    _shared[:] = [TemplateRenderer(budget, workers)]
    return _shared[0]
