"""Analysing one clip for the app: its checks, the analysis and its files and stills.

No rendering here, so tests and scripts can call it directly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from formcheck.errors import InputError, VideoError

if TYPE_CHECKING:
    from formcheck.app.settings import Settings


@dataclass
class Result:
    key: str
    source: str  # file name shown to the user
    report: object  # formcheck.Report
    workdir: Path
    video_path: Path | None
    json_text: str
    csv_bytes: bytes
    elapsed_s: float
    history_id: int | None = None
    history_error: str | None = None
    figures: dict = field(default_factory=dict)  # thresholds repr -> [(name, png bytes)]
    key_frames: list = field(default_factory=list)  # [(caption, JPEG bytes)] with the skeleton, for history/HTML

    @property
    def clip_sha(self) -> str:
        """The clip's content SHA-256: the key's first part (the settings are the rest)."""
        return self.key.split(":", 1)[0]


def check_duration(path: Path, max_duration_s: float) -> None:
    """Raise VideoError for an unreadable clip, InputError for one longer than the limit (its playing
    time, which is what the analysis costs, slow motion or not)."""
    from formcheck.io.video import probe

    info = probe(path)
    if info.duration_s > max_duration_s:
        raise InputError(f"'{path.name}' is {info.duration_s:.0f} s long; this app analyses clips of up to "
                         f"{max_duration_s:.0f} s (see the sidebar). Trim it to the part you want checked.")
    if info.frames < 10:
        raise VideoError(f"'{path.name}' has only {info.frames} frames; film at least a few strides.")


def analyse_clip(path: Path, settings: Settings, progress=None, source: str | None = None,
                 workdir: Path | None = None) -> Result:
    """Check the clip, analyse it and write the annotated video, JSON and CSV into ``workdir``.

    Raises FormcheckError subclasses with a user-facing message.
    """
    from formcheck import Outputs
    from formcheck.api import analyze_with_evidence

    path = Path(path)
    check_duration(path, settings.max_duration_s)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="formcheck-app-"))
    t0 = time.monotonic()
    try:
        report, evidence = analyze_with_evidence(path, workdir, outputs=Outputs(video=True, json=True, csv=True),
                                                 thresholds=settings.thresholds, slowmo=settings.slowmo,
                                                 progress=progress)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)  # a failed analysis leaves nothing behind
        raise
    outputs = report.outputs
    video = Path(outputs["video"]) if outputs.get("video") else None
    return Result(key="", source=source or path.name, report=report, workdir=workdir,
                  video_path=video if video and video.exists() else None,
                  json_text=shareable_json(report, source or path.name),
                  csv_bytes=Path(outputs["csv"]).read_bytes(), elapsed_s=time.monotonic() - t0,
                  key_frames=session_key_frames(path, evidence, report, settings.slowmo))


def shareable_json(report, source: str) -> str:
    """The JSON report a visitor downloads: the clip and outputs by name, never the server's folders."""
    d = report.to_dict()
    d["video"]["path"] = source
    d["outputs"] = {kind: Path(out).name for kind, out in d["outputs"].items()}
    return json.dumps(d, indent=2)


def session_key_frames(path: Path, evidence, report, slowmo: float) -> list[tuple[str, bytes]]:
    """Up to three small JPEG stills with the skeleton (the top fixes' frames); none if they cannot be read."""
    from formcheck.outputs.html_report import key_frames

    try:
        return key_frames(path, evidence, report.coaching.fixes if report.coaching else [], slowmo, fmt=".jpg")
    except Exception:  # noqa: BLE001 - stills are an extra: never lose the analysis over them
        return []
