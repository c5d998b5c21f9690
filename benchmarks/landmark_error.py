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

CLIP_TRUTH = ROOT / "tests" / "truth"
FEET_TRUTH = CLIP_TRUTH / "feet"
VIDEOS = ROOT.parent / "shared" / "videos"


def _near_far(xy: np.ndarray, marked: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The model's (near, far) heel/toe, each frame matched the way round that fits best, and the marked ones."""
    if np.isnan(xy[[LEFT_HEEL, LEFT_TOE, RIGHT_HEEL, RIGHT_TOE]]).any():
        return None
    near, far = (np.array([marked[s]["heel"], marked[s]["toe"]], float) for s in ("near", "far"))
    left, right = xy[[LEFT_HEEL, LEFT_TOE]], xy[[RIGHT_HEEL, RIGHT_TOE]]
    one_way = np.linalg.norm(left - near, axis=1).sum() + np.linalg.norm(right - far, axis=1).sum()
    other = np.linalg.norm(right - near, axis=1).sum() + np.linalg.norm(left - far, axis=1).sum()
    model_near, model_far = (left, right) if one_way <= other else (right, left)
    return model_near, model_far, near, far


def frame_errors(xy: np.ndarray, marked: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(4,) heel/toe errors in foot lengths (near heel, near toe, far heel, far toe) and which are sure."""
    feet = _near_far(xy, marked)
    if feet is None:
        return None
    model_near, model_far, near, far = feet
    foot = np.median([np.linalg.norm(near[1] - near[0]), np.linalg.norm(far[1] - far[0])])
    errors = np.r_[np.linalg.norm(model_near - near, axis=1), np.linalg.norm(model_far - far, axis=1)]
    sure = np.array([marked["near"]["sure"]] * 2 + [marked["far"]["sure"]] * 2)
    return errors / foot, sure


def _pitch(heel_toe: np.ndarray, facing: int) -> float:
    """Foot pitch in degrees, toe down positive, as formcheck measures it (image horizontal, facing forward)."""
    (hx, hy), (tx, ty) = heel_toe
    return float(np.degrees(np.arctan2(ty - hy, (tx - hx) * facing)))


def near_pitch_error(xy: np.ndarray, marked: dict, facing: int) -> float | None:
    """The model's near-foot pitch minus the marked one, in degrees, where the near foot is marked sure."""
    feet = _near_far(xy, marked)
    if feet is None or not marked["near"]["sure"]:
        return None
    diff = _pitch(feet[0], facing) - _pitch(feet[2], facing)
    return float((diff + 180.0) % 360.0 - 180.0)


def main() -> None:
    print("| clip | frames | marked frames | no pose | sure points | median | 90th pct | > 0.5 foot "
          "| near-foot pitch, model - marked: median (median abs, frames) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(FEET_TRUTH.glob("*.json")):
        truth = json.loads(path.read_text())
        clip = VIDEOS / truth["clip"]
        facing = 1 if json.loads((CLIP_TRUTH / path.name).read_text())["facing"] == "right" else -1
        with VideoFile(clip) as video:
            xy = estimate_clip(video, mirror=lambda: faces_right(video, None)).xy
        for window in ("miss", "control"):
            frames = {int(f): m for f, m in truth["frames"].items() if m["window"] == window}
            if not frames:
                continue
            found = [frame_errors(xy[f], m) for f, m in frames.items()]
            points = np.concatenate([e[s] for e, s in (x for x in found if x is not None)] or [np.array([])])
            stats = (f"{np.median(points):.2f} | {np.percentile(points, 90):.2f} | {np.mean(points > 0.5):.0%}"
                     if len(points) else "- | - | -")
            pitch = [e for e in (near_pitch_error(xy[f], m, facing) for f, m in frames.items()) if e is not None]
            pitch_text = f"{np.median(pitch):+.0f}° ({np.median(np.abs(pitch)):.0f}°, {len(pitch)})" if pitch else "-"
            print(f"| {clip.stem} | {window} | {len(frames)} | {sum(x is None for x in found)} | {len(points)} "
                  f"| {stats} | {pitch_text} |")


if __name__ == "__main__":
    main()
