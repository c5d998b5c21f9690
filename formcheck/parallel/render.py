"""The annotated video on every core.

Drawing and H.264 encoding have no state that crosses frames except the encoder's own,
so each participant encodes its ranges into part files (each starting on a key frame)
and the parts are joined by copying their packets into one MP4: no second encode.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import av

from formcheck.errors import OutputError
from formcheck.io.files import flush_to_disk, part_path
from formcheck.io.video import VideoFile
from formcheck.io.writer import H264Writer, _output_error
from formcheck.outputs.render import ANNOTATED_VIDEO, Annotator
from formcheck.parallel.board import OPEN, _Aborted, _Board, _solo_board
from formcheck.parallel.processes import (MIN_PARALLEL_FRAMES, Progress, _context, _orphan_check, _peak_rss_kb, _Pool,
                                          _refuse_while_bootstrapping, _Reporter, worker_board, worker_count)
from formcheck.parallel.seeks import _Seeks, key_frames

DECODE_SHARE_RENDER = 0.2  # decoding a frame / decoding + drawing + encoding one

MIN_RENDER_STEAL = 30  # frames: a new part costs an encoder start and a key frame


@dataclass(frozen=True)
class _RenderJob:
    src: str
    slowmo: float
    dst: str  # the user's output: errors name it, never a part file
    prefix: str  # part files are f"{prefix}.{first_frame}.mp4", next to the output
    fps: float
    width: int
    height: int
    n_est: int
    evidence: object  # rules.Evidence
    findings: list
    title: str
    seeks: _Seeks | None = None


@dataclass
class _Part:
    start: int
    frames: int
    path: str
    exhausted: bool


class _Incompatible(Exception):
    """The parts' encoder settings differ, so they cannot be joined without re-encoding."""


def _annotator(job: _RenderJob):
    position = {int(f): i for i, f in enumerate(job.evidence.pose.frame_index)}
    return Annotator(job.evidence, job.findings, title=job.title), position


def _render_range(job: _RenderJob, drawing, board: _Board, p: int, lo: int, on_frame=None) -> _Part:
    annotator, position = drawing
    path = f"{job.prefix}.{lo}.mp4"
    frames, exhausted = 0, True
    try:
        with VideoFile(job.src, slowmo=job.slowmo, start=lo) as video, \
                H264Writer(path, fps=job.fps, width=job.width, height=job.height, threads=1,
                           **ANNOTATED_VIDEO) as writer:
            for frame in video:
                if not board.claim(p, frame.index):
                    if board.aborted:
                        raise _Aborted
                    exhausted = False
                    break
                i = position.get(frame.index)
                if i is not None:
                    annotator.draw(frame.bgr, i)
                writer.write(frame.bgr)
                frames += 1
                board.done[p] += 1
                if on_frame is not None:
                    on_frame()
    except OutputError as exc:  # a full disk, say: the user knows their output, not our part files
        raise _output_error(Path(job.dst), exc.__cause__ or exc) from exc
    return _Part(lo, frames, path if frames else "", exhausted)


def _remove_parts(prefix: str) -> None:
    """Delete every file of this render next to the output: parts and their writers' temp files."""
    folder, tag = os.path.split(prefix)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return
    for name in names:
        if tag + "." in name:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _render_work(job: _RenderJob, p: int) -> tuple[list[_Part], dict]:
    """A worker: encode ranges of the annotated video into part files until none is worth it."""
    board = worker_board()
    parts: list[_Part] = []
    stats = {"participant": p, "pid": os.getpid(), "ranges": []}
    if board is None or board.state.value != board.RUNNING:
        return parts, stats
    drawing = _annotator(job)
    alive = _orphan_check()
    got = board.assigned(p)
    while True:  # on failure the caller removes our part files (it waits for us first)
        got = got or board.steal(p, job.n_est, 0, MIN_RENDER_STEAL, job.seeks)
        if got is None:
            break
        parts.append(_render_range(job, drawing, board, p, got[0], on_frame=alive))
        stats["ranges"].append((parts[-1].start, parts[-1].start + parts[-1].frames))
        got = None
    stats["peak_rss_kb"] = _peak_rss_kb()
    return parts, stats


def _join(parts: list[_Part], dst: Path, fps: float) -> None:
    """Copy the parts' packets, shifted to their place in time, into one faststart MP4 at ``dst``."""
    tmp = part_path(dst)
    try:
        with av.open(parts[0].path) as first:
            template = first.streams.video[0]
            extradata = template.codec_context.extradata
            fmt = "mov" if dst.suffix.lower() == ".mov" else "mp4"
            with av.open(str(tmp), "w", format=fmt, options={"movflags": "+faststart"}) as out:
                ost = out.add_stream_from_template(template)
                for part in parts:
                    with av.open(part.path) as inp:
                        ist = inp.streams.video[0]
                        if ist.codec_context.extradata != extradata:
                            raise _Incompatible(part.path)
                        # the same arithmetic as H264Writer's own timestamps
                        shift = round(part.start * (1 / float(ist.time_base)) / fps)
                        for packet in inp.demux(ist):
                            if packet.dts is None:
                                continue  # the demuxer's end-of-stream marker
                            packet.pts += shift
                            packet.dts += shift
                            packet.stream = ost
                            out.mux(packet)
        flush_to_disk(tmp)
        os.replace(tmp, dst)
    except (OSError, av.FFmpegError) as exc:
        raise _output_error(dst, exc) from exc
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def render_video(src, dst, evidence, findings: list, title: str, slowmo: float = 1.0,
                 progress: Progress | None = None, *, workers: int | None = None,
                 min_frames: int = MIN_PARALLEL_FRAMES, stats: dict | None = None) -> bool:
    """Write the annotated video of ``src`` to ``dst`` on all cores.

    Returns False, having written nothing, when it does not pay (one core, a short clip) or
    the parts could not be joined; the caller then runs its sequential loop.
    """
    src, dst = Path(src), Path(dst)
    with VideoFile(src, slowmo=slowmo) as video:
        info = video.info
    total = info.frames
    n = worker_count(workers)
    if n == 1 or total < min_frames:
        return False
    _refuse_while_bootstrapping()
    ctx = _context()
    board = _Board(ctx, n, 0)
    job = _RenderJob(str(src), slowmo, str(dst), str(dst.parent / f".{dst.name}.{secrets.token_hex(4)}"), info.fps,
                     info.width, info.height, total, evidence, list(findings), title,
                     _Seeks(key_frames(src), DECODE_SHARE_RENDER))
    pool = _Pool(ctx, board, job, n - 1, fn=_render_work)
    reporter = _Reporter("video", total, progress, board, pool)
    on_frame = reporter.on_frame
    parts: list[_Part] = []
    ok = False
    try:
        drawing = _annotator(job)
        parts.append(_render_range(job, drawing, board, 0, 0, on_frame))
        while (got := board.steal(0, total, 0, MIN_RENDER_STEAL, job.seeks)) is not None:
            parts.append(_render_range(job, drawing, board, 0, got[0], on_frame))
        busy = board.close()
        more, worker_stats = pool.results([p for p in busy if p != 0], reporter.report)
        parts += more
        # frames nobody delivered (a worker process died): render them here
        parts += [_render_gap(ctx, job, drawing, lo, hi) for lo, hi in _gaps(parts)]
        joined = sorted((q for q in parts if q.frames), key=lambda q: q.start)
        try:
            _join(joined, dst, info.fps)
        except _Incompatible:
            return False
        ok = True
    finally:
        if not ok:  # stop the workers at their next frame and wait, so none writes after the clean-up
            pool.wait([p for p in board.close(aborted=True) if p != 0])
        pool.shutdown()
        _remove_parts(job.prefix)
    reporter.report(final=True)
    if stats is not None:
        stats.update(participants=n, parts=[(q.start, q.frames) for q in joined], workers=worker_stats)
    return True


def _gaps(parts: list[_Part]) -> list[tuple[int, int]]:
    """Frame ranges [lo, hi) no part covers (hi is OPEN after the last part if none reached the end)."""
    gaps, nxt, ended = [], 0, False
    for q in sorted((q for q in parts if q.frames or q.exhausted), key=lambda q: q.start):
        if q.start > nxt:
            gaps.append((nxt, q.start))
        nxt = max(nxt, q.start + q.frames)
        ended = ended or q.exhausted
    if not ended:
        gaps.append((nxt, OPEN))
    return gaps


def _render_gap(ctx, job: _RenderJob, drawing, lo: int, hi: int) -> _Part:
    return _render_range(job, drawing, _solo_board(ctx, lo, hi), 0, lo)
