"""Where the test material is, and the one pose-free fact about the treadmill clip."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project
SAMPLES = ROOT / "sample_videos"
SHARED_VIDEOS = ROOT.parent / "shared" / "videos"  # ../shared beside the project, as in CI
TREADMILL = SHARED_VIDEOS / "treadmill_forward_male_side.mp4"
TREADMILL_CADENCE = 168.9  # from treadmill_forward_male_side.groundtruth.json (pose-free measurement)
TWO_PEOPLE = SHARED_VIDEOS / "overground_two_people_sports2d_demo.mp4"
