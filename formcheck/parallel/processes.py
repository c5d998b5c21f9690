"""The worker processes: how many, how they start, how the caller hears from them.

Workers start with ``forkserver`` where available (MediaPipe is not fork-safe once a
landmarker exists; the fork server only imports it), else ``spawn``. A ``FormcheckError``
in a worker is raised in the caller unchanged; if the pool itself breaks, the caller
runs what is missing itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from formcheck.errors import FormcheckError
from formcheck.parallel.board import _PEER_TIMEOUT_S, _Aborted, _Board

# progress(stage, done, total), as in formcheck.api
Progress = Callable[[str, int, int], None]

MIN_PARALLEL_FRAMES = 120  # ~4 s at 30 fps: on shorter clips a worker's start-up costs more than it saves
MAX_WORKERS = 8  # each landmarker process holds ~300 MB


def available_cpus() -> int:
    """Cores this process may run on (affinity/cgroup-aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(requested: int | None = None) -> int:
    """How many landmarkers to run at once (the caller included).

    ``requested`` wins, then the ``FORMCHECK_WORKERS`` environment variable, then one per
    available core. 1 means the plain sequential loop.
    """
    if requested is None:
        env = os.environ.get("FORMCHECK_WORKERS", "").strip()
        if env:
            try:
                requested = int(env)
            except ValueError:
                requested = None
    n = available_cpus() if requested is None else requested
    return max(1, min(int(n), MAX_WORKERS))


_BOARD: _Board | None = None  # in a worker process: the board of the run it serves


def worker_board() -> _Board | None:
    """The board this worker process was started with (None outside a worker)."""
    return _BOARD


def _init_worker(board: _Board) -> None:
    global _BOARD
    _BOARD = board
    parent = mp.parent_process()
    if parent is not None:
        # A killed caller must not leave workers behind, busy or idle (an idle pool worker
        # would wait for tasks forever): exit as soon as the caller's process is gone.
        def watch() -> None:
            parent.join()
            os._exit(1)

        threading.Thread(target=watch, name="formcheck-orphan-watch", daemon=True).start()


def _peak_rss_kb() -> int:
    """This process's peak resident set size (VmHWM), in kB; 0 where unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError):
        return 0


def _orphan_check():
    """In a worker: a callable that stops the work once the process that asked for it is gone
    (killed callers must not leave workers computing)."""
    parent = mp.parent_process()

    def check() -> None:
        if parent is not None and not parent.is_alive():
            raise _Aborted

    return check


def stop_helper_processes() -> None:
    """Wait for workers still exiting, then stop the workers' fork server and wait for it, so that
    nothing of a command outlives it. What has not exited within a peer timeout is stopped or hung
    (a worker or the fork server stopped while starting up) and is killed. (The resource tracker is
    left to exit with this process: it must outlive the boards' locks, which are released at
    interpreter exit.) The next analysis in this process starts the fork server again."""
    from multiprocessing import forkserver

    deadline = time.monotonic() + _PEER_TIMEOUT_S
    while _EXITING:  # idle workers still starting up, then exiting
        _EXITING.pop().join(timeout=max(0.0, deadline - time.monotonic()))
    for child in mp.active_children():
        with contextlib.suppress(OSError, ValueError):
            child.kill()
    server = forkserver._forkserver  # private, but _stop is the only call that waits for it (CPython's tests use it)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    killer = threading.Timer(max(0.0, deadline - time.monotonic()), _kill, (pid,))
    killer.start()
    with contextlib.suppress(Exception):
        server._stop()
    killer.cancel()


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


_MAIN_ENV = "_FORMCHECK_PARENT_MAIN"


def _context():
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # The fork server imports these once; every later worker forks from it ready to go.
        ctx.set_forkserver_preload(["formcheck.parallel", "mediapipe", "cv2", "av"])
        # ...and tells its children that the caller's main module is already in place (see
        # _adopt_parent_main), so they never re-run the caller's script.
        from multiprocessing import spawn

        prep = spawn.get_preparation_data("formcheck")
        os.environ[_MAIN_ENV] = json.dumps([prep.get("init_main_from_name"), prep.get("init_main_from_path")])
        return ctx
    return mp.get_context("spawn")


def _adopt_parent_main() -> None:
    """In the fork server, while it preloads formcheck.parallel: make ``__main__`` look like the
    caller's main module, so that the workers forked from it skip importing the caller's
    script (multiprocessing does that unless ``__main__`` already matches).

    Workers only run formcheck code, so they never need the script; importing it would run
    any unguarded top-level code (a second analysis, say) or fail (``python - <<EOF``).
    """
    value = os.environ.get(_MAIN_ENV)
    if not value:
        return
    frame = sys._getframe()
    while frame is not None:  # only when imported by multiprocessing.forkserver.main
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith(os.path.join("multiprocessing", "forkserver.py")):
            break
        frame = frame.f_back
    else:
        return
    import importlib.machinery

    try:
        name, path = json.loads(value)
    except (ValueError, TypeError):
        return
    main = sys.modules["__main__"]
    if name:
        main.__spec__ = importlib.machinery.ModuleSpec(name, None)
    elif path:
        main.__file__ = path


_adopt_parent_main()


STUCK_S = 2 * _PEER_TIMEOUT_S  # no frame for this long, though a peer's wait ends after one timeout


class _ProgressWatch:
    """Tells a worker that has stopped delivering frames from one that is merely slow."""

    def __init__(self, delivered: Callable[[], int]) -> None:
        self._delivered = delivered
        self._last = (delivered(), time.monotonic())

    def stuck(self) -> bool:
        now, count = time.monotonic(), self._delivered()
        if count != self._last[0]:
            self._last = (count, now)
        return now - self._last[1] > STUCK_S


class _Pool:
    """Worker processes started from a background thread, so the caller never waits on them.

    Each worker runs ``fn(job, participant)`` once, on the board it was started with.
    """

    def __init__(self, ctx, board: _Board, job, workers: int, fn: Callable):
        self.executor: cf.ProcessPoolExecutor | None = None
        self.futures: dict[int, cf.Future] = {}
        self.error: BaseException | None = None
        self.board = board
        self._started = threading.Event()
        threading.Thread(target=self._start, args=(ctx, board, job, workers, fn),
                         name="formcheck-pool", daemon=True).start()

    def _start(self, ctx, board, job, workers, fn) -> None:
        try:
            self.executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                   initializer=_init_worker, initargs=(board,))
            for p in range(1, workers + 1):
                self.futures[p] = self.executor.submit(fn, job, p)
        except BaseException as exc:  # no pool: the caller simply does all the work
            self.error = exc
        finally:
            self._started.set()

    def failed_early(self) -> BaseException | None:
        """A FormcheckError a worker already raised (so the caller can stop at once)."""
        for fut in list(self.futures.values()):
            if fut.done() and not fut.cancelled():
                exc = fut.exception()
                if isinstance(exc, FormcheckError):
                    return exc
        return None

    def results(self, participants: list[int], report) -> tuple[list, list[dict]]:
        """Wait for the workers that took work; the others are not waited for, nor is a pool
        whose start-up stalled (a fork server or worker stopped while starting).

        Returns what their ``fn`` delivered (pose segments or video parts) and their stats.
        """
        segments, stats = [], []
        for p in participants:
            segs, st = self._result(p, report)
            segments.extend(segs)
            if st is not None:
                stats.append(st)
        if any(st.get("stuck") for st in stats):
            self._kill_workers()
        return segments, stats

    def _result(self, p: int, report) -> tuple[list, dict | None]:
        watch = _ProgressWatch(lambda: self.board.done[p])
        while True:
            fut = self.futures.get(p)
            try:
                if fut is None:  # its process took work, but the pool is still starting the others
                    if self._started.wait(0.05) and p not in self.futures:
                        return [], None
                    raise cf.TimeoutError
                return fut.result(timeout=0.05)
            except cf.TimeoutError:
                report()
                if watch.stuck():  # stopped, swapping or deadlocked: the caller runs what is missing
                    return [], {"participant": p, "broken": True, "stuck": True}
            except FormcheckError:
                raise
            except (BrokenProcessPool, cf.CancelledError, OSError, EOFError):
                return [], {"participant": p, "broken": True}  # the caller runs what is missing

    def _kill_workers(self) -> None:
        """End the pool's processes: the work is collected, and a stuck one would never exit
        (nor let the pool's shutdown return). The executor lists them only privately."""
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            with contextlib.suppress(OSError, ValueError):
                process.kill()

    def wait(self, participants: list[int], timeout_s: float = _PEER_TIMEOUT_S) -> None:
        """Wait until these workers have finished, whatever the outcome."""
        self._started.wait(timeout_s)
        futures = [self.futures[p] for p in participants if p in self.futures]
        cf.wait(futures, timeout=timeout_s)

    def shutdown(self) -> None:
        """Let the workers exit in the background; the caller does not wait for idle ones.

        The thread keeps the executor (and with it the board's shared lock) alive until the
        last worker has exited, so a worker still starting up never finds it gone.
        """

        def finish() -> None:
            self._started.wait()
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=True)

        exiting = threading.Thread(target=finish, name="formcheck-pool-exit", daemon=True)
        exiting.start()
        _EXITING[:] = [t for t in _EXITING if t.is_alive()] + [exiting]


_EXITING: list[threading.Thread] = []  # pools whose workers are still exiting (see stop_helper_processes)


def _refuse_while_bootstrapping() -> None:
    """Stop a worker that is re-running the user's unguarded script (spawn/forkserver import it).

    Without this the worker would run the user's whole script, analyses included, before
    it ever serves its range; failing fast makes the caller do the work itself and says why.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise RuntimeError(
            "formcheck.analyze() was called while a formcheck worker process was importing the main "
            "script. Put the script's top-level code under `if __name__ == \"__main__\":` so the "
            "worker processes can import it without running it (the analysis itself still completes)."
        )


class _Reporter:
    """The caller's side of a parallel run: progress over all participants (never backwards,
    see _Board.go_solo) and a worker's FormcheckError raised here as soon as it happens."""

    CHECK_EVERY = 10  # frames between looks at the workers' futures

    def __init__(self, stage: str, total: int, progress: Progress | None, board: _Board, pool: _Pool):
        self.stage, self.total, self.progress = stage, total, progress
        self.board, self.pool = board, pool
        self.reported = -1
        self.frames = 0

    def report(self, final: bool = False) -> None:
        if self.progress is None:
            return
        done = self.total if final else min(self.board.total_done(), self.total)
        if done > self.reported:
            self.reported = done
            self.progress(self.stage, done, self.total)

    def on_frame(self) -> None:
        self.report()
        self.frames += 1
        if self.frames % self.CHECK_EVERY == 0:
            self.check()

    def check(self) -> None:
        self.report()
        exc = self.pool.failed_early()
        if exc is not None:
            raise exc
