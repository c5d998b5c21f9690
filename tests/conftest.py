"""Shared fixtures: the real clips in ../shared/videos and derived versions of them."""

from __future__ import annotations

import os
from pathlib import Path

# The app's tests run Streamlit in this process: as `formcheck app` does, it listens on loopback
# (read once, when Streamlit first loads its options).
os.environ.setdefault("STREAMLIT_SERVER_ADDRESS", "127.0.0.1")

import pytest
from support.clips import transformed_clip
from support.paths import TREADMILL


@pytest.fixture(scope="session")
def treadmill_clip() -> Path:
    if not TREADMILL.exists():
        pytest.fail(f"missing test clip {TREADMILL}: ../shared/videos must sit beside the repo")
    return TREADMILL


@pytest.fixture(scope="session")
def reversed_treadmill_clip(tmp_path_factory, treadmill_clip) -> Path:
    return transformed_clip(treadmill_clip, tmp_path_factory.mktemp("rev") / "reversed.mp4", reverse=True)


@pytest.fixture(scope="session")
def mirrored_treadmill_clip(tmp_path_factory, treadmill_clip) -> Path:
    return transformed_clip(treadmill_clip, tmp_path_factory.mktemp("mir") / "mirrored.mp4", mirror=True)
