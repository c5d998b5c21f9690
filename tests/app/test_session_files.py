"""A browser session's temporary files go with it; a failed analysis and a dead server leave nothing."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

from formcheck.app.session_files import SERVER_PREFIX, SessionFiles, remove_leftovers, server_root


def test_a_sessions_files_go_when_the_session_is_dropped():
    files = SessionFiles()
    upload = files.new_folder("upload-") / "run.mp4"
    upload.write_bytes(b"x" * 1000)
    folder = files.folder
    assert folder.parent == server_root() and upload.exists()
    del files
    gc.collect()  # what happens when Streamlit forgets a closed tab's session state
    assert not folder.exists()


def test_the_folders_of_servers_that_no_longer_run_are_removed_at_start_up(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{SERVER_PREFIX}{dead.pid}"
    (gone / "session-x").mkdir(parents=True)
    (gone / "session-x" / "clip.mp4").write_bytes(b"x")
    alive = tmp_path / f"{SERVER_PREFIX}{os.getpid()}"
    alive.mkdir()
    other = tmp_path / "someone-elses-folder"
    other.mkdir()
    assert remove_leftovers(tmp_path) == [gone]
    assert not gone.exists() and alive.exists() and other.exists()


@pytest.mark.slow
def test_a_failed_analysis_leaves_no_folder_behind(tmp_path):
    from formcheck.app.clip_analysis import analyse_clip
    from formcheck.app.settings import Settings
    from formcheck.errors import NoPersonError
    from formcheck.io.writer import H264Writer

    clip = tmp_path / "empty_room.mp4"
    with H264Writer(clip, fps=30, width=160, height=120) as writer:
        for i in range(40):
            writer.write(np.full((120, 160, 3), 100 + i, np.uint8))
    workdir = tmp_path / "result"
    workdir.mkdir()
    with pytest.raises(NoPersonError):
        analyse_clip(clip, Settings(), workdir=workdir)
    assert not workdir.exists()
