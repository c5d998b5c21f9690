"""Batch throughput: eight clips, three ways, measured in the same run.

    python benchmarks/batch.py            # annotated videos included, as a coach would run it
    python benchmarks/batch.py --no-video

1. the reference: ``formcheck analyze`` on each clip in turn (default options: each clip's frames
   already shared among the cores);
2. ``formcheck batch`` on this computer (clip-level parallelism: a clip per core);
3. ``formcheck batch --scheduler`` with a local Dask scheduler and two single-threaded workers.

Prints each one's wall time and clips per minute, and the ratios: batch against the reference
(target at least 1.3x on 2 cores) and Dask against the local batch (overhead at most 15 %).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"
SHARED = ROOT.parent / "shared" / "videos"
FORMCHECK = [sys.executable, "-m", "formcheck.cli"]
DASK = Path(sys.executable).with_name("dask")


def eight_clips(folder: Path) -> list[Path]:
    clips = sorted(SAMPLES.glob("*.mp4"))
    extra = sorted(SHARED.glob("*.mp4"), key=lambda p: p.stat().st_size) if SHARED.is_dir() else []
    clips = (clips + extra)[:8]
    while len(clips) < 8:  # without ../shared: a sample twice, under another name
        clips.append(clips[len(clips) % 7])
    copies = []
    for i, clip in enumerate(clips):
        copies.append(folder / f"{i}_{clip.name}")
        shutil.copy(clip, copies[-1])
    return copies


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def with_dask(work, video: list[str]) -> float:
    info = work / "scheduler.json"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        while not info.exists():
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs += [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                    "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for _ in range(2)]
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        return timed(FORMCHECK + ["batch", str(work / "clips"), "--out-dir", str(work / "dask"), "--quiet",
                                  "--scheduler", address] + video)
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-video", action="store_true")
    args = parser.parse_args()
    video = ["--no-video"] if args.no_video else []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "clips").mkdir()
        clips = eight_clips(work / "clips")
        reference = sum(timed(FORMCHECK + ["analyze", str(c), "--out-dir", str(work / "each"), "--quiet"] + video)
                        for c in clips)
        batch = timed(FORMCHECK + ["batch", str(work / "clips"), "--out-dir", str(work / "batch"), "--quiet"] + video)
        resumed = timed(FORMCHECK + ["batch", str(work / "clips"), "--out-dir", str(work / "batch"), "--quiet"] + video)
        dask = with_dask(work, video)
    n = len(clips)
    print(f"{n} clips{' (no annotated video)' if args.no_video else ''}")
    for name, seconds in (("analyze, each in turn (reference)", reference), ("formcheck batch", batch),
                          ("formcheck batch, second run (all skipped)", resumed),
                          ("formcheck batch --scheduler (2 Dask workers)", dask)):
        print(f"  {name:<46} {seconds:7.1f} s  {60 * n / seconds:6.1f} clips/min")
    print(f"batch throughput / reference: {reference / batch:.2f}x (target >= 1.3x)")
    print(f"Dask overhead against the local batch: {100 * (dask / batch - 1):+.1f} % (target <= 15 %)")


if __name__ == "__main__":
    main()
