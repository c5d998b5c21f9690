"""What a command left behind: processes still running in the session it was started in."""

from __future__ import annotations

import os
import time


def still_running(session: int, grace_s: float = 1.0) -> list[int]:
    """Processes still running in ``session`` (a command's workers, their fork server), after a
    grace for multiprocessing's resource tracker, which exits when it sees the command's end."""
    deadline = time.monotonic() + grace_s
    while (left := _running_in(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _running_in(session: int) -> list[int]:
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":  # a zombie has exited
                left.append(int(entry))
    return left


def fork_servers(session: int) -> list[int]:
    """multiprocessing's fork server of a command in ``session`` (the workers' parent)."""
    return [pid for pid in _running_in(session) if "forkserver" in _cmdline(pid)]


def pose_workers(session: int) -> list[int]:
    """The worker processes of a command in ``session``: children of multiprocessing's fork server."""
    servers = fork_servers(session)
    return [pid for pid in _running_in(session) if _parent(pid) in servers]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None
