"""Temporary files that belong to one browser session: its upload and its results' outputs.

They live in one folder per session, inside one folder per server process, so:

* a session's folder goes when Streamlit drops the session (its state is garbage-collected
  a few minutes after the tab closes) or when the server exits;
* a failed analysis's folder goes at once (``discard``);
* at start-up, the folders of server processes that no longer run (a crash, a kill) go.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import weakref
from pathlib import Path

SERVER_PREFIX = "formcheck-server-"


@functools.cache
def server_root() -> Path:
    """This server process's folder, made once; leftovers of dead servers are removed first."""
    base = Path(tempfile.gettempdir())
    remove_leftovers(base)
    root = base / f"{SERVER_PREFIX}{os.getpid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def remove_leftovers(base: Path) -> list[Path]:
    """Remove the folders of formcheck servers that no longer run; returns what was removed."""
    removed = []
    for folder in base.glob(f"{SERVER_PREFIX}*"):
        pid = folder.name[len(SERVER_PREFIX):]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running, and not ours to judge
        return True
    return True


class SessionFiles:
    """One browser session's folder; removed with the session (or the server)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=server_root()))
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.folder), True)

    def new_folder(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.folder))

    def close(self) -> None:
        self._remove()


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
