"""glibc's allocator, set for a clip's frames while a cluster worker analyses it.

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_`` set, so that memory goes back
to the system early. Setting it also switches off glibc's adaptive mmap threshold: every frame
buffer then becomes a fresh mmap whose pages are faulted in and zeroed, which makes a whole
analysis about a fifth slower. For the clip, frames come from the heap as in a plain process;
afterwards the worker's own setting is back and the freed memory is returned.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from collections.abc import Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_FRAMES = 32 << 20  # glibc's largest mmap threshold: a 4K frame still comes from the heap
_GLIBC_DEFAULT = 128 << 10  # glibc's mmap and trim thresholds when nothing is set

_lock = threading.Lock()
_clips_running = 0  # the setting is process-wide; a worker with several threads runs several clips


@contextlib.contextmanager
def frames_from_the_heap() -> Iterator[None]:
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    libc = _glibc() if trim is not None else None
    if libc is None:  # not tuned (glibc adapts by itself), or not glibc
        yield
        return
    _started(libc)
    try:
        yield
    finally:
        _ended(libc, _as_int(trim))


def _started(libc) -> None:
    global _clips_running
    with _lock:
        if not _clips_running:
            libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_FRAMES)
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * _HEAP_FRAMES)
        _clips_running += 1


def _ended(libc, trim: int) -> None:
    global _clips_running
    with _lock:
        _clips_running -= 1
        if not _clips_running:  # the last clip running: the worker's own setting again
            libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT)
            libc.mallopt(_M_TRIM_THRESHOLD, trim)
            libc.malloc_trim(0)


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return _GLIBC_DEFAULT
