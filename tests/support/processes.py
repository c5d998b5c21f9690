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
