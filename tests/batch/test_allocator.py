"""On a Dask worker started by its nanny (MALLOC_TRIM_THRESHOLD_ set), a clip's frames come from
the heap while it is analysed, not from a fresh mmap each, and the worker's setting is back after."""

import ctypes
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import ctypes, numpy as np
    from formcheck.batch.allocator import frames_from_the_heap

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def mapped_while_a_frame_lives():
        frame = np.ones((1080, 1920, 3), np.uint8)  # one full-HD frame
        mapped = libc.mallinfo2().hblks
        del frame
        return mapped

    before = mapped_while_a_frame_lives()
    with frames_from_the_heap():
        with frames_from_the_heap():  # two clips at once on a worker with two threads
            pass
        during = mapped_while_a_frame_lives()  # the first clip to end leaves the other's setting alone
    after = mapped_while_a_frame_lives()
    print(before, during, after)
""")


def _has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="needs glibc 2.33 or newer (Linux), as Dask's nanny tuning is")
def test_frames_come_from_the_heap_during_a_clip_on_a_nanny_started_worker():
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True,
                         env={"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"})
    before, during, after = map(int, run.stdout.split())
    assert before > during, "with the nanny's setting alone, each frame is its own mmap"
    assert after == before, "after the clip, the worker's own setting is back"
