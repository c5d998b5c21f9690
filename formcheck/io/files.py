"""Writing files so that a reader never sees half of one: a part file beside the target,
flushed to disk, then renamed over it. A failure leaves the previous file as it was."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from formcheck.errors import OutputError


def part_path(path: Path) -> Path:
    """A hidden, unique name beside ``path`` with the same suffix (muxers choose the format by it)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}")


_PART = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.part(\.[^.]*)?$")


def target_of(path: Path) -> Path:
    """The file a part file stands for (itself if it is none): what error messages name."""
    while match := _PART.match(path.name):
        path = path.with_name(match["name"])
    return path


def create_part(path: Path) -> Path:
    """Create ``path``'s part file: O_EXCL so it is ours, 0o666 so the umask sets the final mode
    (as for any file the user's programs write)."""
    part = part_path(path)
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return part


def flush_to_disk(path: Path) -> None:
    """fsync, so a rename that survives a power cut never points at a file whose data did not."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write, mode: str = "w", **open_kwargs) -> Path:
    """Write through a part file in the same folder, renamed over ``path`` on success only."""
    path = Path(path)
    try:
        part = create_part(path)
    except OSError as exc:
        raise OutputError(f"Cannot write to {path.parent}: {exc.strerror}.") from exc
    try:
        with open(part, mode, **open_kwargs) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise OutputError(f"Could not write {target_of(path)}: {exc.strerror}.") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), encoding="utf-8")
