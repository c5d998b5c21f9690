"""How far the pose model's foot landmarks are from the feet, on frames marked by eye.

    python benchmarks/landmark_error.py

For each clip with a file in tests/truth/feet (heel and toe of both feet, marked without the
model's landmarks in view), runs the pose as formcheck does and prints the heel/toe landmark
error in foot lengths, separately for the frames around contacts the pipeline gets wrong
("miss") and around contacts it gets right ("control") on that clip. Where the misses' error is
well above the control's, the model is the cause; where it is not, the pipeline is.
Points marked unsure are left out; each frame is matched either way round (near/far to
left/right), so a left/right label swap shows in the contacts, not here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from formcheck.io.video import VideoFile  # noqa: E402
from formcheck.parallel import estimate_clip  # noqa: E402
from formcheck.pose import LEFT_HEEL, LEFT_TOE, RIGHT_HEEL, RIGHT_TOE  # noqa: E402
from formcheck.pose.facing import faces_right  # noqa: E402

FEET_TRUTH = ROOT / "tests" / "truth" / "feet"
VIDEOS = ROOT.parent / "shared" / "videos"


def frame_errors(xy: np.ndarray, marked: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(4,) heel/toe errors in foot lengths (near heel, near toe, far heel, far toe) and which are sure."""
    if np.isnan(xy[[LEFT_HEEL, LEFT_TOE, RIGHT_HEEL, RIGHT_TOE]]).any():
        return None
    near, far = (np.array([marked[s]["heel"], marked[s]["toe"]], float) for s in ("near", "far"))
    foot = np.median([np.linalg.norm(near[1] - near[0]), np.linalg.norm(far[1] - far[0])])
    left, right = xy[[LEFT_HEEL, LEFT_TOE]], xy[[RIGHT_HEEL, RIGHT_TOE]]
    one_way = np.r_[np.linalg.norm(left - near, axis=1), np.linalg.norm(right - far, axis=1)]
    other = np.r_[np.linalg.norm(right - near, axis=1), np.linalg.norm(left - far, axis=1)]
    errors = one_way if one_way.mean() <= other.mean() else other
    sure = np.array([marked["near"]["sure"]] * 2 + [marked["far"]["sure"]] * 2)
    return errors / foot, sure


def main() -> None:
    print("| clip | frames | marked frames | no pose | sure points | median | 90th pct | > 0.5 foot |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(FEET_TRUTH.glob("*.json")):
        truth = json.loads(path.read_text())
        clip = VIDEOS / truth["clip"]
        with VideoFile(clip) as video:
            xy = estimate_clip(video, mirror=lambda: faces_right(video, None)).xy
        for window in ("miss", "control"):
            frames = {int(f): m for f, m in truth["frames"].items() if m["window"] == window}
            found = [frame_errors(xy[f], m) for f, m in frames.items()]
            points = np.concatenate([e[s] for e, s in (x for x in found if x is not None)] or [np.array([])])
            stats = (f"{np.median(points):.2f} | {np.percentile(points, 90):.2f} | {np.mean(points > 0.5):.0%}"
                     if len(points) else "- | - | -")
            print(f"| {clip.stem} | {window} | {len(frames)} | {sum(x is None for x in found)} | {len(points)} | {stats} |")


if __name__ == "__main__":
    main()
