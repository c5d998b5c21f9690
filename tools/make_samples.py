"""Write the synthetic sample clips (mp4 + truth JSON + joints npz) for demos and tests.

    python tools/make_samples.py [--out sample_videos] [--only NAME ...]

Each clip is a backward jog on a treadmill, facing image-left, that differs from the good
one in a single fault, so a finding can be traced to exactly one cause.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the synthetic runner is test material

from support.synthetic import GaitParams, render_clip  # noqa: E402

BASE = GaitParams(duration_s=6.0, width=960, height=540, fps=30.0)

SAMPLES: dict[str, GaitParams] = {
    "good_backward_jog": BASE,
    "upright_lean_back": replace(BASE, trunk_lean_deg=-5.0, seed=1),
    "straight_arms": replace(BASE, elbow_angle_deg=160.0, seed=2),
    "heel_strike": replace(BASE, strike="heel", seed=3),
    "long_steps": replace(BASE, step_length_leg=1.25, cadence_spm=150.0, seed=4),
    "heel_drag": replace(BASE, heel_drag=True, seed=5),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sample_videos", help="output folder")
    parser.add_argument("--only", nargs="*", choices=sorted(SAMPLES), help="clips to write")
    parser.add_argument("--crf", type=int, default=28, help="x264 quality (higher = smaller)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for name in args.only or SAMPLES:
        start = time.perf_counter()
        path = out / f"{name}.mp4"
        truth = render_clip(SAMPLES[name], path, crf=args.crf)
        print(f"{path}  {truth['frames']} frames, {len(truth['contacts'])} contacts, "
              f"{path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
