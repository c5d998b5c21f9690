"""Writing files so that a reader never sees half of one: a part file beside the target,
flushed to disk, then renamed over it. A failure leaves the previous file as it was."""

from __future__ import annotations

import hashlib
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


def content_sha256(path: str | Path) -> str:
    """The file's SHA-256: what says a clip is unchanged, whatever its name or date."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_together(files: dict[Path, bytes]) -> None:
    """Write several files all or nothing: part files first, renamed into place once all are written."""
    parts: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            parts[path] = create_part(path)
            parts[path].write_bytes(data)
            flush_to_disk(parts[path])
        for path, part in parts.items():
            os.replace(part, path)
    except OSError as exc:
        raise OutputError(f"Could not write the outputs in {next(iter(files)).parent}: {exc.strerror or exc}.") from exc
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
