"""``formcheck batch``: many clips, each one's outputs as ``analyze`` writes them, one summary.

Clips whose outputs are complete and whose content and settings are unchanged are skipped; a
bad clip is a row with its error and the batch goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from formcheck.batch.clips import BatchClip, clip_date, collect
from formcheck.batch.job import ANALYSED, BAD_INPUT, FAILED, NOT_RUN, ClipJob, ClipResult
from formcheck.batch.local import Interrupted, Plan, run_local
from formcheck.batch.state import LOCK_FILE, BatchState
from formcheck.batch.summary import SummaryRow, summary_row, write_csv, write_html
from formcheck.config import Thresholds
from formcheck.errors import FormcheckError, InputError
from formcheck.io.files import content_sha256, write_together
from formcheck.io.lock import exclusive_lock

SUMMARY_CSV, SUMMARY_HTML = "summary.csv", "summary.html"


@dataclass(frozen=True)
class BatchOptions:
    out_dir: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    video: bool = True  # write each clip's annotated video
    slowmo: float = 1.0  # for clips whose manifest row gives none
    fps: float | None = None
    scheduler: str | None = None  # a Dask scheduler's address; None: this computer
    history: bool = False  # save each analysed clip to its athlete's history


@dataclass(frozen=True)
class BatchProgress:
    done: int  # clips finished this run
    total: int  # clips to run this run (skipped ones not counted)
    seconds_left: float | None  # None until the first clip is done
    row: SummaryRow  # the clip just finished


@dataclass
class BatchResult:
    rows: list[SummaryRow]
    plan: str  # how the clips ran, in words
    skipped: int  # clips already done by an earlier run
    summary_csv: Path
    summary_html: Path

    @property
    def exit_status(self) -> int:
        """0 every clip analysed; 2 some were bad input; 1 some failed otherwise."""
        statuses = {row.status for row in self.rows}
        return 1 if FAILED in statuses else 2 if BAD_INPUT in statuses else 0


def run_batch(inputs: list[str | Path], options: BatchOptions,
              progress: Callable[[BatchProgress], None] | None = None) -> BatchResult:
    out_dir = Path(options.out_dir).resolve()  # the record of what is done holds absolute paths
    clips = collect(inputs, out_dir, options.slowmo, options.fps)
    # two batches in one folder would analyse the same clips and overwrite each other's record
    with exclusive_lock(out_dir / LOCK_FILE) as ours:
        if not ours:
            raise InputError(f"Another formcheck batch is writing to {out_dir}. Wait for it to finish, "
                             "or give this one another --out-dir.")
        return _run_clips(clips, options, out_dir, progress)


def _run_clips(clips: list[BatchClip], options: BatchOptions, out_dir: Path,
               progress: Callable[[BatchProgress], None] | None) -> BatchResult:
    state = BatchState(out_dir)
    rows: dict[Path, SummaryRow] = {}
    pending: list[tuple[ClipJob, str]] = []
    for clip in clips:
        job = ClipJob(clip, options.thresholds, options.video)
        result, sha = _earlier_result(job, state)
        if result is not None:
            rows[clip.path] = summary_row(clip, result)
        else:
            pending.append((job, sha))
    skipped = sum(row.status == ANALYSED for row in rows.values())
    eta = _Eta([job.clip for job, _ in pending])
    # the longest clips first, so that no long one is left running alone on one core at the end
    jobs = sorted((job for job, _ in pending), key=lambda job: eta.frames_of(job.clip), reverse=True)
    plan, finished = _runner(jobs, options.scheduler)
    shas = {job.clip.path: sha for job, sha in pending}

    def record(job: ClipJob, result: ClipResult) -> SummaryRow:
        result = _keep(job, result, shas[job.clip.path], state, options.history)
        rows[job.clip.path] = summary_row(job.clip, result)
        return rows[job.clip.path]

    try:
        for job, result in finished:
            row = record(job, result)
            if progress is not None:
                progress(BatchProgress(eta.done + 1, len(pending), eta.finished(job.clip), row))
    except KeyboardInterrupt as stop:  # the clips done so far are summarised; the next run does the rest
        for job, result in stop.finished if isinstance(stop, Interrupted) else ():
            record(job, result)
        _summarise(clips, rows, out_dir, f"{plan}; interrupted")
        raise
    ordered, csv_path, html_path = _summarise(clips, rows, out_dir, plan)
    return BatchResult(ordered, plan, skipped, csv_path, html_path)


def _summarise(clips: list[BatchClip], rows: dict[Path, SummaryRow], out_dir: Path,
               plan: str) -> tuple[list[SummaryRow], Path, Path]:
    not_run = ClipResult(NOT_RUN, "interrupted before this clip was done; run the batch again to finish it")
    ordered = [rows.get(clip.path) or summary_row(clip, not_run) for clip in clips]
    return ordered, write_csv(ordered, out_dir / SUMMARY_CSV), write_html(ordered, out_dir / SUMMARY_HTML, plan)


def _earlier_result(job: ClipJob, state: BatchState) -> tuple[ClipResult | None, str]:
    """The clip's result without running it (a bad-input row, or an earlier run's), and its hash."""
    if job.clip.problem:
        return ClipResult(BAD_INPUT, job.clip.problem), ""
    try:
        sha = content_sha256(job.clip.path)
    except OSError as exc:
        return ClipResult(BAD_INPUT, f"{job.clip.name} cannot be read: {exc.strerror or exc}."), ""
    done = state.finished(job, sha)
    return (ClipResult(ANALYSED, report=done.report) if done else None), sha


def _runner(jobs: list[ClipJob], scheduler: str | None) -> tuple[str, Iterator[tuple[ClipJob, ClipResult]]]:
    """How the jobs will run, in words, and their results as they finish."""
    if not jobs:
        return "nothing left to run", iter(())
    if scheduler:
        from formcheck.batch.cluster import describe, run_on_cluster

        return describe(scheduler), run_on_cluster(jobs, scheduler)
    plan = Plan.for_clips(len(jobs))
    return plan.describe(len(jobs)), run_local(jobs, plan)


def _keep(job: ClipJob, result: ClipResult, sha: str, state: BatchState, history: bool) -> ClipResult:
    """Put a finished clip's outputs in place and record it (for resuming, and in its athlete's history)."""
    try:
        if result.files:
            job.clip.out_dir.mkdir(parents=True, exist_ok=True)
            write_together({job.clip.out_dir / name: data for name, data in result.files.items()})
            result.files = {}
        if result.status != ANALYSED:
            state.forget(job)
            return result
        state.record(job, sha, result.report)
    except (OSError, FormcheckError) as exc:
        return ClipResult(FAILED, str(exc))
    if history:
        result.error = _save_to_history(job.clip, result.report)
    return result


def _save_to_history(clip: BatchClip, report: dict) -> str | None:
    """None when saved; otherwise why not (the clip's analysis stands)."""
    from formcheck.outputs.history import History

    try:
        History.of_athlete(clip.athlete).save(report, clip.name, "clip", when=clip_date(clip.path))
    except (OSError, FormcheckError) as exc:
        return f"not saved to the history: {exc}"
    return None


class _Eta:
    """Time left, from the frames of the clips finished so far."""

    def __init__(self, clips: list[BatchClip]):
        self._frames = {clip.path: _frame_count(clip) for clip in clips}
        self._left = sum(self._frames.values())
        self._done_frames = 0
        self.done = 0
        self._start = time.monotonic()

    def frames_of(self, clip: BatchClip) -> int:
        return self._frames.get(clip.path, 0)

    def finished(self, clip: BatchClip) -> float | None:
        frames = self.frames_of(clip)
        self._done_frames += frames
        self._left -= frames
        self.done += 1
        if not self._done_frames:
            return None
        return (time.monotonic() - self._start) / self._done_frames * self._left


def _frame_count(clip: BatchClip) -> int:
    from formcheck.io.video import probe

    try:
        return probe(clip.path).frames if not clip.problem else 0
    except FormcheckError:
        return 0
