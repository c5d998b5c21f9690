"""What a batch already did in its output folder, so a second run skips clips that are done.

A clip is done when its outputs are all there, as written, and neither its content (SHA-256)
nor the settings it was analysed with have changed since. The record is one JSON file in the
output folder, rewritten whole after each clip (never half-written), and only once the clip's
outputs are in place: an interrupted run loses at most the clips it was working on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from formcheck import __version__
from formcheck.batch.job import ClipJob
from formcheck.config import as_dict
from formcheck.io.files import atomic_write_text

STATE_FILE = ".formcheck-batch.json"
LOCK_FILE = ".formcheck-batch.lock"  # held by the batch writing to the folder


@dataclass(frozen=True)
class Done:
    sha256: str
    settings: str
    outputs: dict[str, int]  # output path -> size in bytes
    report: dict


def settings_key(job: ClipJob) -> str:
    """Everything besides the clip's content that its outputs depend on."""
    settings = {"formcheck": __version__, "thresholds": as_dict(job.thresholds), "video": job.video,
                "slowmo": job.clip.slowmo, "fps": job.clip.fps, "athlete": job.clip.athlete}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class BatchState:
    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE_FILE
        self._done: dict[str, Done] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._done = {clip: Done(**entry) for clip, entry in data["clips"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # no record (or a damaged one): every clip runs

    def finished(self, job: ClipJob, sha256: str) -> Done | None:
        """The earlier run's record of this clip, if its outputs still stand for it."""
        done = self._done.get(str(job.clip.path))
        if done is None or done.sha256 != sha256 or done.settings != settings_key(job):
            return None
        for path, size in done.outputs.items():
            if not Path(path).is_file() or Path(path).stat().st_size != size:
                return None
        return done

    def record(self, job: ClipJob, sha256: str, report: dict) -> None:
        outputs = {path: Path(path).stat().st_size for path in report.get("outputs", {}).values()}
        self._done[str(job.clip.path)] = Done(sha256, settings_key(job), outputs, report)
        self._save()

    def forget(self, job: ClipJob) -> None:
        if self._done.pop(str(job.clip.path), None) is not None:
            self._save()

    def _save(self) -> None:
        clips = {clip: asdict(done) for clip, done in self._done.items()}
        atomic_write_text(self.path, json.dumps({"clips": clips}))
