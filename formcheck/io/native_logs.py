"""Keep native log chatter (MediaPipe, absl/glog, LiteRT/TFLite) off the user's terminal.

The C++ side writes straight to file descriptor 2, from its own threads and at teardown, whatever
Python's logging is set to, and the LiteRT logger has no switch. Silencing fd 2 would also hide
real errors of other threads (a Streamlit server's), so instead fd 2 becomes a pipe that one thread
reads, passing every line on to the real stderr except those in a native log format.

``FORMCHECK_NATIVE_LOGS=show`` (what ``formcheck --debug`` sets) leaves stderr alone.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# glog/absl ("W0000 00:00:1796158802.59 17709 file.cc:1433] ..."), LiteRT/TFLite ("INFO: [file.cc:43] ...",
# "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") and the logging-before-init warnings. Fatal
# lines are kept: the process is about to die and the user should know why.
_NATIVE_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\]"
    rb"|(?:VERBOSE|DEBUG|INFO|WARNING|ERROR): (?:\[[^ \]]+:\d+\]|Created TensorFlow Lite|Initialized TensorFlow Lite)"
    rb"|WARNING: (?:All log messages before absl::InitializeLog|Logging before InitGoogle))")
# An unfinished line that may be native (they start with a capital) waits for its end; others,
# like a "\r 42%" progress redraw, are shown at once.
_MAYBE_NATIVE = re.compile(rb"^[A-Z]")

_SHOW_ENV = "FORMCHECK_NATIVE_LOGS"
_SENTINEL = b"\x00formcheck-stderr-flush\x00"  # written at exit to learn when all before it is out
_lock = threading.Lock()
_state: dict = {}  # pipe_inode, thread of the filter currently on fd 2


def is_native_line(line: bytes) -> bool:
    return bool(_NATIVE_LINE.match(line.lstrip(b"\r")))


def filter_native_logs() -> None:
    """Put the filter on fd 2, once per process (again if someone replaced fd 2 since)."""
    if os.environ.get(_SHOW_ENV, "").lower() == "show":
        return
    with _lock:
        if _state and _fd_inode(2) == _state["pipe_inode"]:
            return
        try:
            real_fd = os.dup(2)
            read_fd, write_fd = os.pipe()
        except OSError:
            return
        os.dup2(write_fd, 2)
        os.close(write_fd)
        thread = threading.Thread(target=_forward, args=(read_fd, real_fd), name="formcheck-stderr",
                                  daemon=True)
        thread.start()
        if not _state:
            atexit.register(_drain)
        _state.update(pipe_inode=_fd_inode(2), thread=thread)


def _fd_inode(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _forward(read_fd: int, real_fd: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        flush_asked = _SENTINEL in chunk
        pending = _pass_on(pending + chunk.replace(_SENTINEL, b""), real_fd)
        if flush_asked and "flushed" in _state:
            _state["flushed"].set()
    if pending and not is_native_line(pending):
        _write_all(real_fd, pending)
    os.close(read_fd)


def _pass_on(data: bytes, real_fd: int) -> bytes:
    """Write every complete non-native line; return the unfinished tail still to be judged."""
    *lines, tail = data.split(b"\n")
    kept = [line + b"\n" for line in lines if not is_native_line(line)]
    if tail and not _MAYBE_NATIVE.match(tail):
        kept.append(tail)
        tail = b""
    _write_all(real_fd, b"".join(kept))
    return tail


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return


def _drain() -> None:
    """At exit: wait until everything written so far has been passed on (the last error line)."""
    thread = _state.get("thread")
    if thread is None or not thread.is_alive() or _fd_inode(2) != _state["pipe_inode"]:
        return
    flushed = _state["flushed"] = threading.Event()
    try:
        sys.stderr.flush()
        os.write(2, _SENTINEL)
    except (OSError, ValueError):
        return
    flushed.wait(1.0)
