"""Output files: a failed run never destroys the previous good result, and each clip gets its own names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.api import Outputs, _write_outputs, output_paths
from formcheck.errors import OutputError
from formcheck.io.files import atomic_write_text
from formcheck.outputs.report import Report, VideoRecord
from formcheck.pipeline import analyse_pose


def _analysed(cadence: float = 180.0):
    return analyse_pose(make_series(Gait2D(fps=30.0, cadence=cadence)), VideoRecord(path="run.mp4"))


def _write(folder: Path, report, evidence) -> dict[str, bytes]:
    _write_outputs(report, evidence, Path("run.mp4"), folder, Outputs(video=False), 1.0, None)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_run_that_fails_half_way_leaves_the_previous_outputs_as_they_were(tmp_path, monkeypatch):
    first = _write(tmp_path, *_analysed(170.0))
    assert sorted(first) == ["run.formcheck.csv", "run.formcheck.json"]
    report, evidence = _analysed(190.0)

    def full_disk(self, path):
        raise OutputError(f"Could not write '{path}': the disk is full.")

    monkeypatch.setattr(Report, "write_json", full_disk)  # the CSV is written, then the JSON fails
    with pytest.raises(OutputError, match="disk is full"):
        _write_outputs(report, evidence, Path("run.mp4"), tmp_path, Outputs(video=False), 1.0, None)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first  # no part files, nothing replaced
    assert report.outputs == {}


def test_a_new_run_replaces_the_whole_set(tmp_path):
    first = _write(tmp_path, *_analysed(170.0))
    second = _write(tmp_path, *_analysed(190.0))
    assert sorted(second) == sorted(first) and second != first


def test_clips_of_one_name_in_one_folder_get_their_own_outputs(tmp_path):
    names = {clip: {p.name for p in output_paths(tmp_path / clip, None).values()}
             for clip in ("run.mp4", "run.mov", "run.MOV", "run.avi")}
    assert names["run.mp4"] == {"run.formcheck.mp4", "run.formcheck.json", "run.formcheck.csv"}
    assert "run.mov.formcheck.json" in names["run.mov"]
    everything = [name for group in names.values() for name in group]
    assert len(everything) == len(set(everything))


def test_written_files_get_the_users_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
