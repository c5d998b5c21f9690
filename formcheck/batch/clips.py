"""Which clips a batch runs: folders, globs and CSV manifests, each clip with its athlete, its
time scale and the folder its outputs go to."""

from __future__ import annotations

import csv
import glob
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from formcheck.errors import InputError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".3gp"}
MANIFEST_COLUMNS = ("clip", "athlete", "slowmo", "fps")
MAX_MANIFEST_BYTES = 10 << 20


@dataclass(frozen=True)
class BatchClip:
    path: Path  # absolute
    out_dir: Path  # where its outputs go
    athlete: str | None = None
    slowmo: float = 1.0
    fps: float | None = None
    problem: str | None = None  # why it cannot run (a missing file, a bad manifest cell): a bad-input row

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class _Entry:
    path: Path
    athlete: str | None = None
    slowmo: float | None = None
    fps: float | None = None
    problem: str | None = None


def collect(inputs: list[str | Path], out_dir: Path, slowmo: float = 1.0, fps: float | None = None) -> list[BatchClip]:
    """Every clip the inputs name, once each, in the order given (folders sorted by path).

    Clips in different folders keep their folders under ``out_dir``, so two ``run.mp4`` never share
    outputs. ``slowmo`` and ``fps`` apply where a manifest row leaves them empty."""
    entries: dict[Path, _Entry] = {}
    for item in inputs:
        for entry in _entries(Path(item), out_dir):
            entries.setdefault(entry.path, entry)
    if not entries:
        raise InputError("No clips to analyse: the paths given hold no video files "
                         f"({', '.join(sorted(VIDEO_SUFFIXES))}).")
    root = _common_folder([e.path.parent for e in entries.values()])
    return [BatchClip(e.path, out_dir / e.path.parent.relative_to(root), e.athlete,
                      e.slowmo if e.slowmo is not None else slowmo, e.fps if e.fps is not None else fps, e.problem)
            for e in entries.values()]


def _entries(item: Path, out_dir: Path) -> list[_Entry]:
    if item.suffix.lower() == ".csv" and item.is_file():
        return _manifest(item)
    if item.is_dir():
        return [_Entry(p) for p in _videos_in(item, out_dir)]
    if item.exists():
        return [_Entry(item.resolve())]
    matches = sorted(glob.glob(str(item), recursive=True)) if glob.has_magic(str(item)) else []
    if not matches:
        raise InputError(f"'{item}' is not a file, a folder or a pattern that matches any file.")
    found = []
    for match in map(Path, matches):
        if match.is_dir():
            found += [_Entry(p) for p in _videos_in(match, out_dir)]
        elif match.suffix.lower() in VIDEO_SUFFIXES:
            found.append(_Entry(match.resolve()))
    return found


def _videos_in(folder: Path, out_dir: Path) -> list[Path]:
    """The folder's video files, sub-folders included, but not hidden ones nor formcheck's own outputs."""
    skip = out_dir.resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(folder.resolve()):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() != skip)
        found += [here / f for f in sorted(filenames) if Path(f).suffix.lower() in VIDEO_SUFFIXES
                  and not f.startswith(".") and ".formcheck." not in f]
    return found


def _manifest(path: Path) -> list[_Entry]:
    """A CSV with a ``clip`` column (paths relative to the CSV's folder) and optionally ``athlete``,
    ``slowmo`` and ``fps``. A row that cannot run becomes a bad-input row; a file that is no manifest
    stops the batch before any work."""
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InputError(f"The manifest {path.name} is over {MAX_MANIFEST_BYTES >> 20} MB; is it really a list of clips?")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"The manifest {path.name} cannot be read as CSV: {exc}.") from exc
    if "clip" not in columns:
        raise InputError(f"The manifest {path.name} needs a header row with a 'clip' column "
                         f"(and optionally {', '.join(MANIFEST_COLUMNS[1:])}).")
    entries = []
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        if not row.get("clip"):
            continue
        clip = Path(row["clip"]).expanduser()
        clip = (clip if clip.is_absolute() else path.parent / clip).resolve()
        problems = [] if clip.is_file() else [f"{row['clip']} (line {line} of {path.name}) does not exist"]
        slowmo, fps = (_number(row, key, line, path.name, problems) for key in ("slowmo", "fps"))
        entries.append(_Entry(clip, row.get("athlete") or None, slowmo, fps, "; ".join(problems) or None))
    return entries


def _number(row: dict, key: str, line: int, manifest: str, problems: list[str]) -> float | None:
    text = row.get(key, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        problems.append(f"{key} '{text}' on line {line} of {manifest} must be a positive number")
        return None
    return value


def clip_date(path: Path) -> datetime | None:
    """When the clip was filmed, as far as a batch knows: its file's date (local time)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except OSError:
        return None


def _common_folder(folders: list[Path]) -> Path:
    return Path(os.path.commonpath([str(f) for f in folders]))
