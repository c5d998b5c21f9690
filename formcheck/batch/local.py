"""A batch on this computer: clip-level or frame-level parallelism, never both at once.

With at least as many clips as cores, each core analyses its own clip (one process per clip,
frame-level parallelism off); with fewer, the clips go one after another and each one's frames
are shared among the cores, as ``formcheck analyze`` does.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from formcheck.batch.job import FAILED, ClipJob, ClipResult, one_core_per_clip, run_here
from formcheck.parallel import available_cpus

ATTEMPTS = 2  # a clip whose process dies (out of memory, killed) is tried once more in a new one


@dataclass(frozen=True)
class Plan:
    clips_at_once: int

    @classmethod
    def for_clips(cls, n_clips: int, cores: int | None = None) -> Plan:
        cores = cores or available_cpus()
        return cls(cores if n_clips >= cores > 1 else 1)

    def describe(self, n_clips: int) -> str:
        cores = available_cpus()
        if self.clips_at_once > 1:
            return f"{n_clips} clips on {cores} cores: {self.clips_at_once} clips at a time, one core each"
        return f"{n_clips} clip(s) on {cores} core(s): one clip at a time, its frames shared among the cores"


def run_local(jobs: list[ClipJob], plan: Plan) -> Iterator[tuple[ClipJob, ClipResult]]:
    """Each job with its result, as they finish."""
    if plan.clips_at_once == 1:
        for job in jobs:
            yield job, run_here(job)
        return
    yield from _in_processes(jobs, plan.clips_at_once)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a batch, carrying the clips whose results arrived as it stopped: a clip that
    finished just before it has its outputs written and must not be reported as not run."""

    def __init__(self, finished: list[tuple[ClipJob, ClipResult]]):
        super().__init__()
        self.finished = finished


def _in_processes(jobs: list[ClipJob], workers: int) -> Iterator[tuple[ClipJob, ClipResult]]:
    attempts = {id(job): 0 for job in jobs}
    waiting = list(jobs)
    while waiting:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_start)
        running = {}
        try:
            while waiting or running:
                while waiting and len(running) < workers:
                    job = waiting.pop(0)
                    attempts[id(job)] += 1
                    running[pool.submit(_worker_run, job)] = job
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield running.pop(future), future.result()
        except BrokenProcessPool:
            for future, job in running.items():
                if future.done() and future.exception() is None:
                    yield job, future.result()
                elif attempts[id(job)] >= ATTEMPTS:
                    yield job, ClipResult(FAILED, f"the process analysing it stopped {ATTEMPTS} times "
                                                  "(out of memory?); try this clip on its own")
                else:
                    waiting.insert(0, job)
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # results still on their way arrive
            raise Interrupted([(job, future.result()) for future, job in running.items()
                               if future.done() and not future.cancelled() and future.exception() is None]) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


_BUSY = False  # in a worker: whether a clip is being analysed


def _worker_start() -> None:
    one_core_per_clip()
    # Ctrl-C reaches every process of the terminal: a busy worker stops its clip (its part files
    # are removed), an idle one stays quiet while the caller shuts the pool down. A batch started
    # with SIGINT ignored (nohup, a background job) ignores it in its workers too, as in its caller.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt_if_busy)


def _interrupt_if_busy(signum, frame) -> None:
    if _BUSY:
        raise KeyboardInterrupt


def _worker_run(job: ClipJob) -> ClipResult:
    global _BUSY
    _BUSY = True
    try:
        return run_here(job)
    except KeyboardInterrupt:
        return ClipResult(FAILED, "interrupted")
    finally:
        _BUSY = False
