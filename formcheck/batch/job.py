"""One clip of a batch, on whichever process runs it: this one, a local worker or a Dask worker.

Whatever goes wrong becomes the clip's result (a row in the summary), never the batch's end.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from formcheck.batch.allocator import frames_from_the_heap
from formcheck.batch.clips import BatchClip
from formcheck.config import Thresholds
from formcheck.errors import FormcheckError, InputError

ANALYSED, BAD_INPUT, FAILED, NOT_RUN = "analysed", "bad input", "failed", "not run"


@dataclass(frozen=True)
class ClipJob:
    clip: BatchClip
    thresholds: Thresholds
    video: bool = True  # write the annotated video


@dataclass
class ClipResult:
    status: str  # ANALYSED, BAD_INPUT or FAILED
    error: str | None = None
    report: dict | None = None  # the JSON report, as analyze writes it
    files: dict[str, bytes] = field(default_factory=dict)  # output file name -> bytes, when analysed elsewhere
    seconds: float = 0.0


def one_core_per_clip() -> None:
    """Clip-level parallelism: each clip's pose runs in its own process only (frame-level off)."""
    os.environ["FORMCHECK_WORKERS"] = "1"


def run_here(job: ClipJob) -> ClipResult:
    """Analyse the clip and write its outputs into its output folder, as ``formcheck analyze`` does."""
    from formcheck.api import Outputs, analyze

    def work() -> tuple[dict, dict[str, bytes]]:
        job.clip.out_dir.mkdir(parents=True, exist_ok=True)
        report = analyze(job.clip.path, job.clip.out_dir, outputs=Outputs(video=job.video),
                         thresholds=job.thresholds, slowmo=job.clip.slowmo, fps=job.clip.fps)
        return report.to_dict(), {}

    return _guarded(job, work)


def run_remote(job: ClipJob, source: str | bytes) -> ClipResult:
    """On a cluster worker: analyse the clip, read from ``source`` (a path this worker sees, or the
    clip's bytes), and hand its outputs back as bytes for the caller's folder."""
    from formcheck.api import Outputs, analyze, output_paths

    one_core_per_clip()

    def work() -> tuple[dict, dict[str, bytes]]:
        with tempfile.TemporaryDirectory(prefix="formcheck-batch-") as tmp, frames_from_the_heap():
            clip = Path(source) if isinstance(source, str) else Path(tmp) / job.clip.name
            if isinstance(source, bytes):
                clip.write_bytes(source)
            elif not clip.is_file():
                raise InputError(f"This worker cannot read {source}; share the folder with every worker.")
            out = Path(tmp) / "out"
            out.mkdir()
            report = analyze(clip, out, outputs=Outputs(video=job.video, json=False), thresholds=job.thresholds,
                             slowmo=job.clip.slowmo, fps=job.clip.fps)
            # the report names the caller's clip and output folder, as a local run's does
            report.video = dataclasses.replace(report.video, path=str(job.clip.path))
            written = dict(report.outputs)
            targets = output_paths(job.clip.path, job.clip.out_dir)
            report.outputs = {kind: str(targets[kind]) for kind in written}
            report.outputs["json"] = str(targets["json"])
            report.write_json(out / targets["json"].name)
            files = {targets[kind].name: (out / targets[kind].name).read_bytes() for kind in report.outputs}
            return report.to_dict(), files

    return _guarded(job, work)


def _guarded(job: ClipJob, work) -> ClipResult:
    from formcheck.io.video import check_time_scale

    start = time.perf_counter()
    try:
        if job.clip.problem:
            raise InputError(job.clip.problem)
        check_time_scale(job.clip.slowmo, job.clip.fps, ("slowmo", "fps"))
        report, files = work()
        return ClipResult(ANALYSED, report=report, files=files, seconds=time.perf_counter() - start)
    except InputError as exc:
        return ClipResult(BAD_INPUT, str(exc), seconds=time.perf_counter() - start)
    except FormcheckError as exc:
        return ClipResult(FAILED, str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - one clip's bug is its row, not the batch's end
        return ClipResult(FAILED, f"internal error ({type(exc).__name__}: {exc})", seconds=time.perf_counter() - start)
