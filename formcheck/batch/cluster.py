"""A batch on a Dask distributed cluster: one task per clip, outputs back to the caller's folder.

A worker reads the clip from its path when every worker can see that file (a shared folder),
and otherwise receives its bytes. Dask reruns the task of a worker that dies mid-clip on another
worker. Each clip uses one core: give each worker a thread per core (``dask worker``'s default).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from formcheck.batch.job import FAILED, ClipJob, ClipResult, run_remote
from formcheck.errors import InputError

CONNECT_TIMEOUT_S = 20
WAIT_FOR_WORKERS_S = 120


def run_on_cluster(jobs: list[ClipJob], address: str) -> Iterator[tuple[ClipJob, ClipResult]]:
    """Each job with its result, as the cluster finishes them."""
    client = _connect(address)
    try:
        yield from _run(client, jobs)
    finally:
        client.close()


def describe(address: str) -> str:
    return f"clips sent to the Dask scheduler at {address}, one clip per worker thread"


def _connect(address: str):
    try:
        from distributed import Client
    except ImportError as exc:
        raise InputError("--scheduler needs Dask: install formcheck with its cluster extra "
                         "(pip install -r requirements/cluster.txt, or 'formcheck[cluster]').") from exc
    if os.environ.get("FORMCHECK_NATIVE_LOGS") != "show":
        logging.getLogger("distributed").setLevel(logging.ERROR)  # its INFO lines are not the user's business
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"Cannot reach the Dask scheduler at {address} ({exc}). Check the address "
                         "(tcp://HOST:PORT) and that the scheduler is running.") from exc
    try:
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
    except TimeoutError as exc:
        client.close()
        raise InputError(f"The Dask scheduler at {address} has no workers (waited {WAIT_FOR_WORKERS_S} s). "
                         "Start some with: dask worker " + address) from exc
    return client


def _run(client, jobs: list[ClipJob]) -> Iterator[tuple[ClipJob, ClipResult]]:
    from distributed import as_completed

    shared = _seen_by_every_worker(client, [job.clip.path for job in jobs])
    threads = sum(client.nthreads().values())
    waiting = list(jobs)
    running = {}
    finished = as_completed()
    numbers = itertools.count()

    def submit() -> None:
        job = waiting.pop(0)
        path = job.clip.path
        source = str(path) if shared.get(path) else client.scatter(path.read_bytes(), hash=False)
        future = client.submit(run_remote, job, source, pure=False, key=f"formcheck-{next(numbers)}-{path.name}")
        running[future.key] = (job, source)  # a scattered clip stays on the cluster while its task may rerun
        finished.add(future)

    while waiting and len(running) < 2 * threads:  # a few queued per thread; the rest stay on this side
        submit()
    for future in finished:
        job, _ = running.pop(future.key)
        yield job, _result(future)
        if waiting:
            submit()


def _result(future) -> ClipResult:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return ClipResult(FAILED, "every worker that took this clip died during it; try it on its own")
    except Exception as exc:  # noqa: BLE001 - a worker's failure is this clip's row
        return ClipResult(FAILED, f"the cluster could not run it ({type(exc).__name__}: {exc})")


def _seen_by_every_worker(client, paths: list[Path]) -> dict[Path, bool]:
    """Which clips every worker can read at the same path with the same size."""
    wanted = [(str(p), p.stat().st_size if p.is_file() else -1) for p in paths]
    seen = client.run(_sees, wanted)
    return {p: all(answers[i] for answers in seen.values()) for i, p in enumerate(paths)}


def _sees(wanted: list[tuple[str, int]]) -> list[bool]:
    return [os.path.isfile(path) and os.path.getsize(path) == size for path, size in wanted]
