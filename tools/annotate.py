"""Hand-annotate foot contacts on a real clip, by eye, with no pose model involved.

    python tools/annotate.py info CLIP
    python tools/annotate.py sheets CLIP --out DIR [--start 0] [--end N] [--every 1]
                                    [--crop x0,y0,x1,y1] [--cols 6] [--rows 4] [--tile-width 300]
    python tools/annotate.py template CLIP > tests/truth/<clip>.json
    python tools/annotate.py check tests/truth/<clip>.json

``sheets`` writes numbered contact sheets (PNG): consecutive frames in a grid, each tile
labelled with its frame number, optionally cropped to the feet so a touch-down can be
seen frame by frame. ``template`` writes the truth file to fill in; ``check`` validates
a filled-in file and prints the cadence its contacts imply.

Truth file (tests/truth/<clip>.json), frame numbers are 0-based decode order:
    clip, fps, frames, how_annotated, setting (treadmill|overground),
    camera (static|panning|following|hand-held, or a list of them),
    time (real_time|slow_motion|mixed: a speed ramp), slowmo_factor (number or null), facing (left|right),
    direction (forward|backward), gait (run|walk), runner (who, when others are in view),
    judged_frames [first, last] (where every contact of the runner was looked for),
    contacts: [{side: near|far, touch_down: first frame the foot is on the ground (null for a stance
                already under way at the clip's start: played backward, its toe-off is a touch-down),
                toe_off: last frame it is on the ground (or null when not seen),
                strike: heel|flat|forefoot|unclear, clear: true when the whole foot is visible at touch-down}]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

SIDES = ("near", "far")
STRIKES = ("heel", "flat", "forefoot", "unclear")
SETTINGS = ("treadmill", "overground")
CAMERAS = ("static", "panning", "following", "hand-held")


def clip_info(path: str) -> dict:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f"cannot open {path}")
    info = {
        "clip": Path(path).name,
        "fps": round(cap.get(cv2.CAP_PROP_FPS), 3),
        "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    }
    cap.release()
    return info


def _tile(frame: np.ndarray, index: int, crop, tile_width: int) -> np.ndarray:
    if crop:
        x0, y0, x1, y1 = crop
        frame = frame[y0:y1, x0:x1]
    h, w = frame.shape[:2]
    tile = cv2.resize(frame, (tile_width, max(1, round(h * tile_width / w))), interpolation=cv2.INTER_AREA)
    label = str(index)
    for colour, thick in (((0, 0, 0), 5), ((0, 255, 255), 2)):
        cv2.putText(tile, label, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, colour, thick, cv2.LINE_AA)
    return tile


def write_sheets(path: str, out: Path, start: int, end: int | None, every: int, crop,
                 cols: int, rows: int, tile_width: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(path)
    tiles: list[tuple[int, np.ndarray]] = []
    written: list[Path] = []
    index = -1
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        index += 1
        if index < start or (index - start) % every:
            continue
        if end is not None and index > end:
            break
        tiles.append((index, _tile(frame, index, crop, tile_width)))
        if len(tiles) == cols * rows:
            written.append(_save_sheet(tiles, cols, out, Path(path).stem))
            tiles = []
    if tiles:
        written.append(_save_sheet(tiles, cols, out, Path(path).stem))
    cap.release()
    return written


def _save_sheet(tiles, cols: int, out: Path, stem: str) -> Path:
    h, w = tiles[0][1].shape[:2]
    rows = -(-len(tiles) // cols)
    sheet = np.full((rows * (h + 4), cols * (w + 4), 3), 40, np.uint8)
    for k, (_, tile) in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[r * (h + 4):r * (h + 4) + h, c * (w + 4):c * (w + 4) + w] = tile
    name = out / f"{stem}_{tiles[0][0]:05d}-{tiles[-1][0]:05d}.png"
    cv2.imwrite(str(name), sheet)
    return name


def template(path: str) -> dict:
    info = clip_info(path)
    return {
        "clip": info["clip"], "fps": info["fps"], "frames": info["frames"],
        "how_annotated": "", "setting": "", "camera": "", "time": "", "slowmo_factor": None,
        "facing": "", "direction": "", "gait": "", "runner": "",
        "judged_frames": [0, info["frames"] - 1],
        "contacts": [{"side": "near", "touch_down": 0, "toe_off": None, "strike": "unclear", "clear": False}],
        "notes": "",
    }


def check(truth_path: str) -> list[str]:
    truth = json.loads(Path(truth_path).read_text())
    problems = []
    for key, allowed in (("setting", SETTINGS), ("facing", ("left", "right")),
                         ("direction", ("forward", "backward")), ("gait", ("run", "walk")),
                         ("time", ("real_time", "slow_motion", "mixed"))):
        if truth.get(key) not in allowed:
            problems.append(f"{key} must be one of {allowed}")
    cameras = truth.get("camera")
    for cam in cameras if isinstance(cameras, list) else [cameras]:
        if cam not in CAMERAS:
            problems.append(f"camera {cam!r} must be one of {CAMERAS}")
    if not truth.get("how_annotated"):
        problems.append("say how the clip was annotated (how_annotated)")
    first, last = truth["judged_frames"]
    for side in SIDES:
        contacts = sorted((c for c in truth["contacts"] if c["side"] == side), key=_start)
        for prev, cur in zip(contacts, contacts[1:]):
            if prev["toe_off"] is not None and prev["toe_off"] >= cur["touch_down"]:
                problems.append(f"{side} contact at {cur['touch_down']} starts before the previous one ended")
    for c in truth["contacts"]:
        if c["side"] not in SIDES or c.get("strike", "unclear") not in STRIKES:
            problems.append(f"contact {c}: side must be {SIDES}, strike {STRIKES}")
        if c["touch_down"] is None:
            if c["toe_off"] is None:
                problems.append(f"contact {c}: a stance under way at the start needs its toe_off")
            continue
        if not first <= c["touch_down"] <= last:
            problems.append(f"contact at {c['touch_down']} lies outside judged_frames")
        if c["toe_off"] is not None and c["toe_off"] < c["touch_down"]:
            problems.append(f"contact at {c['touch_down']}: toe_off must not come before touch_down")
    return problems


def _start(contact: dict) -> int:
    return -1 if contact["touch_down"] is None else contact["touch_down"]


def implied_cadence(truth: dict) -> float | None:
    """Steps per minute of clip time: touch-downs (either foot) over the frames they span, so the
    whole-frame rounding of single steps averages out."""
    downs = sorted(c["touch_down"] for c in truth["contacts"] if c["touch_down"] is not None)
    if len(downs) < 3:
        return None
    return 60.0 * truth["fps"] * (len(downs) - 1) / (downs[-1] - downs[0])


def _crop(text: str | None):
    return tuple(int(v) for v in text.split(",")) if text else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info").add_argument("clip")
    sheets = sub.add_parser("sheets")
    sheets.add_argument("clip")
    sheets.add_argument("--out", type=Path, required=True)
    sheets.add_argument("--start", type=int, default=0)
    sheets.add_argument("--end", type=int)
    sheets.add_argument("--every", type=int, default=1)
    sheets.add_argument("--crop", help="x0,y0,x1,y1 in pixels")
    sheets.add_argument("--cols", type=int, default=6)
    sheets.add_argument("--rows", type=int, default=4)
    sheets.add_argument("--tile-width", type=int, default=300)
    sub.add_parser("template").add_argument("clip")
    sub.add_parser("check").add_argument("truth")
    args = parser.parse_args(argv)

    if args.command == "info":
        print(json.dumps(clip_info(args.clip), indent=1))
    elif args.command == "sheets":
        for name in write_sheets(args.clip, args.out, args.start, args.end, args.every, _crop(args.crop),
                                 args.cols, args.rows, args.tile_width):
            print(name)
    elif args.command == "template":
        print(json.dumps(template(args.clip), indent=1))
    else:
        problems = check(args.truth)
        truth = json.loads(Path(args.truth).read_text())
        print(f"{len(truth['contacts'])} contacts; implied cadence "
              f"{implied_cadence(truth) or float('nan'):.1f} steps/min of clip time")
        for p in problems:
            print("problem:", p)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
