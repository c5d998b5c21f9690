"""``formcheck batch``: a coach's folder of clips, a manifest with athletes, resuming, a bad clip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from formcheck.batch.clips import collect
from formcheck.batch.summary import read_csv
from formcheck.cli import main
from formcheck.errors import InputError
from formcheck.outputs.history import History

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
CLIPS = ("good_backward_jog.mp4", "heel_strike.mp4")


def _squad(folder: Path) -> Path:
    """Two athletes' clips, one of them not a video, and a manifest naming who is who."""
    (folder / "ann").mkdir(parents=True)
    (folder / "bob").mkdir()
    shutil.copy(SAMPLES / CLIPS[0], folder / "ann" / "run.mp4")
    shutil.copy(SAMPLES / CLIPS[1], folder / "bob" / "run.mp4")
    (folder / "bob" / "broken.mp4").write_bytes(b"\x00" * 5000)
    (folder / "squad.csv").write_text("clip,athlete,slowmo,fps\nann/run.mp4,ann,,\nbob/run.mp4,bob,1,\n"
                                      "bob/broken.mp4,bob,,\nbob/missing.mp4,bob,,\n", encoding="utf-8")
    return folder / "squad.csv"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squad")
    manifest = _squad(folder)
    out = folder / "out"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FORMCHECK_HISTORY", str(folder / "history.sqlite"))
        status = main(["batch", str(manifest), "--out-dir", str(out), "--no-video", "--quiet", "--history"])
        saved = {name: [s["source"] for s in History.of_athlete(name).list_sessions()] for name in ("ann", "bob")}
    return manifest, out, status, saved


@pytest.mark.slow
def test_a_squad_batch_gives_a_row_per_clip_and_goes_on_past_bad_ones(first_run):
    manifest, out, status, saved = first_run
    rows = {(r["athlete"], Path(r["clip"]).name): r for r in read_csv(out / "summary.csv")}
    assert status == 2, "some clips were bad input"
    assert set(rows) == {("ann", "run.mp4"), ("bob", "run.mp4"), ("bob", "broken.mp4"), ("bob", "missing.mp4")}
    for key in (("ann", "run.mp4"), ("bob", "run.mp4")):
        row = rows[key]
        assert row["status"] == "analysed" and row["direction"] == "backward" and row["gait"] == "run"
        assert abs(float(row["cadence_spm"]) - 180.0) <= 0.03 * 180.0  # the clips' known cadence
        assert row["cadence_status"] and row["forefoot_contact_status"]
    assert rows[("bob", "broken.mp4")]["status"] == "bad input" and rows[("bob", "broken.mp4")]["error"]
    assert "does not exist" in rows[("bob", "missing.mp4")]["error"]
    # each clip's outputs as analyze writes them, in its own folder: two run.mp4 never collide
    for athlete in ("ann", "bob"):
        report = json.loads((out / athlete / "run.formcheck.json").read_text())
        assert report["video"]["path"].endswith(f"{athlete}/run.mp4")
    assert saved == {"ann": ["run.mp4"], "bob": ["run.mp4"]}, "each analysed clip in its athlete's history"
    page = (out / "summary.html").read_text()
    assert "Trends per athlete" in page and "broken.mp4" in page
    assert page.count(">analysed</span>") == 2 and page.count(">bad input</span>") == 2, "each clip's own status"


@pytest.mark.slow
def test_a_second_run_skips_unchanged_clips_and_redoes_a_changed_one(first_run, capsys):
    manifest, out, _, _ = first_run
    ann = out / "ann" / "run.formcheck.json"
    before = ann.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["batch", str(manifest), "--out-dir", str(out), "--no-video", "--quiet"]) == 2
    assert "2 clip(s) unchanged" in capsys.readouterr().out
    assert ann.stat().st_mtime_ns == before, "an unchanged clip is not analysed again"
    # bob's clip is replaced by another one: same name, new content, so it runs again
    shutil.copy(SAMPLES / CLIPS[0], manifest.parent / "bob" / "run.mp4")
    assert main(["batch", str(manifest), "--out-dir", str(out), "--no-video", "--quiet"]) == 2
    assert "1 clip(s) unchanged" in capsys.readouterr().out
    rows = {(r["athlete"], Path(r["clip"]).name): r for r in read_csv(out / "summary.csv")}
    assert rows[("bob", "run.mp4")]["score"] == rows[("ann", "run.mp4")]["score"]
    assert not list(out.rglob(".*.part*")), "no half-written outputs"


def test_a_manifest_without_a_clip_column_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("file,athlete\na.mp4,ann\n")
    assert main(["batch", str(tmp_path / "m.csv"), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "needs a header row with a 'clip' column" in err and "Traceback" not in err


def test_a_path_that_matches_nothing_stops_before_any_work(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope*.mp4"), "--out-dir", str(tmp_path / "out")]) == 2
    assert "matches any file" in capsys.readouterr().err


def test_a_second_batch_into_a_folder_in_use_is_refused_and_leaves_the_first_ones_record(tmp_path, capsys):
    """Two batches in one folder would analyse the same clips and each rewrite the record of what is done."""
    import subprocess
    import sys

    shutil.copy(SAMPLES / CLIPS[0], tmp_path / "a.mp4")
    out = tmp_path / "out"
    first = subprocess.Popen(  # holds the folder as a running batch does, until told to stop
        [sys.executable, "-c", "import sys; from pathlib import Path; from formcheck.io.lock import exclusive_lock\n"
         f"with exclusive_lock(Path({str(out)!r}) / '.formcheck-batch.lock') as ours:\n"
         "    print(ours, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "True"
        assert main(["batch", str(tmp_path / "a.mp4"), "--out-dir", str(out), "--no-video"]) == 2
    finally:
        first.communicate("")
    err = capsys.readouterr().err
    assert "Another formcheck batch is writing to" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [".formcheck-batch.lock"]  # nothing analysed, nothing written


def test_bad_manifest_cells_are_rows_with_their_error(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "m.csv").write_text("clip,athlete,slowmo,fps\na.mp4,ann,fast,\na.mp4,ann,,\n")
    clips = collect([tmp_path / "m.csv"], tmp_path / "out")
    assert len(clips) == 1, "a clip listed twice runs once"
    assert "slowmo 'fast' on line 2" in clips[0].problem


def test_folders_keep_their_layout_and_skip_outputs_and_hidden_files(tmp_path):
    for name in ("a/run.mp4", "b/run.mp4", "b/.hidden.mp4", "b/notes.txt", "out/run.formcheck.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    clips = collect([tmp_path], tmp_path / "out")
    assert [(c.path.parent.name, c.out_dir.relative_to(tmp_path / "out").as_posix()) for c in clips] == \
        [("a", "a"), ("b", "b")]
    with pytest.raises(InputError):
        collect([tmp_path / "b" / "*.txt"], tmp_path / "out")


@pytest.mark.slow
def test_ctrl_c_keeps_the_finished_clips_and_their_summary_and_leaves_no_half_written_file(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(4):  # four clips on two cores: a clip per core, two still waiting
        shutil.copy(SAMPLES / CLIPS[i % 2], clips / f"{i}.mp4")
    out = tmp_path / "out"
    batch = subprocess.Popen([sys.executable, "-m", "formcheck.cli", "batch", str(clips), "--out-dir", str(out),
                              "--no-video"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True,
                             # Ctrl-C as a terminal delivers it, even where this test runs with SIGINT ignored
                             # (a background job inherits SIG_IGN, and Python keeps it)
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not list(out.glob("*.formcheck.json")) and time.monotonic() < deadline and batch.poll() is None:
        time.sleep(0.2)
    os.killpg(batch.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: every process of the group
    _, err = batch.communicate(timeout=120)

    assert batch.returncode == 130 and "Traceback" not in err, err
    rows = {Path(row["clip"]).name: row for row in read_csv(out / "summary.csv")}
    assert set(rows) == {f"{i}.mp4" for i in range(4)}, "every clip is a row, done or not"
    done = {name for name, row in rows.items() if row["status"] == "analysed"}
    assert done and len(done) < 4
    assert all((out / f"{Path(name).stem}.formcheck.json").is_file() for name in done)
    assert not [p.name for p in out.rglob("*") if ".part" in p.name], "no half-written file is left"
    assert {row["status"] for name, row in rows.items() if name not in done} <= {"not run", "failed"}
