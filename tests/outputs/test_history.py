"""Session history: what a user gets back from their past sessions (no video, no model)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from formcheck.errors import InputError, OutputError
from formcheck.outputs import history
from formcheck.outputs.history import History


def fake_report(score: int, cadence: float | None, lean: float | None, lean_status: str = "pass",
                direction: str = "backward") -> dict:
    """A Report.to_dict()-shaped dict (the contract keys) with two rules."""
    return {
        "formcheck_version": "0.1.0",
        "video": {"path": "/clips/run.mp4", "fps": 30.0, "frames": 300, "duration_s": 10.0},
        "runner": {"facing": "left"},
        "direction": direction,
        "setting": "treadmill",
        "gait_type": "run",
        "cadence_spm": cadence,
        "contacts": [{"foot": "left", "frame": 10, "time_s": 0.33, "strike": "forefoot", "foot_pitch_deg": 9.0,
                      "contact_time_s": 0.2}],
        "metrics": {"trunk_lean_deg": {"median": lean, "p10": None, "p90": None, "unit": "deg"}},
        "rules": [
            {"id": "trunk_lean", "title": "Slight forward lean", "status": lean_status, "value": lean,
             "unit": "deg", "target": "2-15°", "cue": "ok", "frames": [3, 4]},
            {"id": "cadence", "title": "Quick steps (cadence)", "status": "caution", "value": cadence,
             "unit": "steps/min", "target": "≥ 170", "cue": "quicker", "frames": []},
        ],
        "score": score,
        "warnings": [],
        "outputs": {},
    }


def test_save_list_get_trend_round_trip(tmp_path):
    store = History(tmp_path / "h.sqlite")
    t0 = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)
    first = store.save(fake_report(60, 165.0, 1.0, "caution"), "monday.mp4", when=t0)
    second = store.save(fake_report(80, 172.5, 6.0), "thursday.mp4", when=t0 + timedelta(days=3))
    live = store.save(fake_report(70, None, None, "unknown"), "camera 0", kind="live", when=t0 + timedelta(days=4))
    assert first < second < live

    sessions = store.list_sessions()
    assert [s["id"] for s in sessions] == [live, second, first]  # newest first
    assert sessions[1]["source"] == "thursday.mp4"
    assert sessions[1]["cadence_spm"] == pytest.approx(172.5)
    assert sessions[1]["score"] == 80
    assert sessions[1]["direction"] == "backward"
    assert sessions[1]["created_at"].startswith("2026-01-04T08:00")
    assert sessions[0]["kind"] == "live" and sessions[0]["cadence_spm"] is None
    assert [s["id"] for s in store.list_sessions(kind="live")] == [live]
    assert len(store.list_sessions(limit=2)) == 2

    got = store.get(second)
    assert got["report"] == fake_report(80, 172.5, 6.0)  # the full JSON comes back unchanged
    assert {r["rule_id"]: (r["status"], r["value"]) for r in got["rules"]} == {
        "trunk_lean": ("pass", 6.0), "cadence": ("caution", 172.5)}
    assert store.get(9999) is None

    lean = store.trend("trunk_lean")
    assert [(p["session_id"], p["value"], p["status"]) for p in lean] == [
        (first, 1.0, "caution"), (second, 6.0, "pass"), (live, None, "unknown")]  # oldest first
    assert store.trend("no_such_rule") == []
    assert store.rule_ids() == [("trunk_lean", "Slight forward lean"), ("cadence", "Quick steps (cadence)")]

    assert store.delete(first)
    assert [p["session_id"] for p in store.trend("trunk_lean")] == [second, live]


def test_saves_a_real_report_object(tmp_path):
    """A Report (not a dict) is stored through its to_dict(); NaN values become NULL."""
    from formcheck.analysis.rules import Finding
    from formcheck.outputs.report import Metrics, Report, RunnerRecord, VideoRecord, metric_summary

    nothing = metric_summary([], "")
    report = Report(formcheck_version="0.1.0", video=VideoRecord(path="x.mp4", duration_s=3.0),
                    runner=RunnerRecord("left", "left", None, 0.0, 1, "in the middle of the frame"),
                    direction="backward", setting="treadmill", gait_type="run", cadence_spm=float("nan"),
                    contacts=[], metrics=Metrics(nothing, nothing, nothing, nothing, nothing, None), score=50,
                    rules=[Finding("elbow_angle", "Elbows near 90°", "fail", 150.0, "deg", "70-110°", "bend")])
    sid = history.save(report, "x.mp4", path=tmp_path / "h.sqlite")
    row = history.get(sid, path=tmp_path / "h.sqlite")
    assert row["cadence_spm"] is None
    assert row["report"]["rules"][0]["value"] == 150.0
    assert history.trend("elbow_angle", path=tmp_path / "h.sqlite")[0]["status"] == "fail"
    assert history.list_sessions(path=tmp_path / "h.sqlite")[0]["id"] == sid


def test_default_location_follows_env(tmp_path, monkeypatch):
    monkeypatch.delenv("FORMCHECK_HISTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert history.default_path() == tmp_path / "data" / "formcheck" / "history.sqlite"
    monkeypatch.setenv("FORMCHECK_HISTORY", str(tmp_path / "mine.sqlite"))
    assert history.default_path() == tmp_path / "mine.sqlite"
    history.save(fake_report(50, 170.0, 5.0), "a.mp4")
    assert (tmp_path / "mine.sqlite").exists()
    assert len(history.list_sessions()) == 1


def test_reading_a_missing_history_creates_nothing(tmp_path):
    store = History(tmp_path / "none" / "h.sqlite")
    assert store.list_sessions() == [] and store.trend("cadence") == [] and store.get(1) is None
    assert not (tmp_path / "none").exists()


def test_bad_kind_and_unusable_file_are_clear_errors(tmp_path):
    store = History(tmp_path / "h.sqlite")
    with pytest.raises(InputError, match="kind"):
        store.save(fake_report(50, 170.0, 5.0), "a.mp4", kind="race")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutputError, match="junk.sqlite"):
        History(junk).save(fake_report(50, 170.0, 5.0), "a.mp4")
    folder = tmp_path / "is_a_folder"
    folder.mkdir()
    with pytest.raises(OutputError, match="FORMCHECK_HISTORY"):
        History(folder).save(fake_report(50, 170.0, 5.0), "a.mp4")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).save(fake_report(50, 170.0, 5.0), "a.mp4")
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(OutputError, match="newer formcheck"):
        History(path).list_sessions()


def test_json_column_is_plain_json(tmp_path):
    """Other tools can read the history with plain sqlite3 + json."""
    path = tmp_path / "h.sqlite"
    History(path).save(fake_report(50, 170.0, 5.0), "a.mp4")
    con = sqlite3.connect(path)
    (text,) = con.execute("SELECT report_json FROM sessions").fetchone()
    con.close()
    assert json.loads(text)["score"] == 50


def jpeg(colour: int = 128, width: int = 480) -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((width * 3 // 4, width, 3), colour, np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, 80])
    return data.tobytes()


def test_key_frames_round_trip_and_stay_small(tmp_path):
    store = History(tmp_path / "h.sqlite")
    frames = [("Elbows near 90° — frame 3", jpeg(60)), ("left foot contact", jpeg(200))]
    sid = store.save(fake_report(60, 165.0, 1.0), "a.mp4", key_frames=frames)
    assert store.key_frames(sid) == frames
    assert store.key_frames(store.save(fake_report(60, 165.0, 1.0), "b.mp4")) == []
    with pytest.raises(InputError, match="At most 3"):
        store.save(fake_report(60, 165.0, 1.0), "c.mp4", key_frames=frames * 2)
    with pytest.raises(InputError, match="not a JPEG"):
        store.save(fake_report(60, 165.0, 1.0), "c.mp4", key_frames=[("png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)])
    with pytest.raises(InputError, match="kB"):
        store.save(fake_report(60, 165.0, 1.0), "c.mp4", key_frames=[("huge", b"\xff\xd8\xff" + b"0" * 300_000)])
    assert len(store.list_sessions()) == 2  # refused saves store nothing
    store.delete(sid)
    assert store.key_frames(sid) == []  # deleted with their session


def _old_history(path, schema: str, version: int):
    """A history file as an older formcheck wrote it, holding one session."""
    con = sqlite3.connect(path)
    con.executescript(f"{schema}\nPRAGMA user_version = {version};")
    con.execute("INSERT INTO sessions (created_at, source, kind, report_json) VALUES ('2026-01-01T08:00:00+00:00', "
                "'old.mp4', 'clip', ?)", (json.dumps(fake_report(50, 160.0, 3.0)),))
    con.commit()
    con.close()
    return path


SCHEMA_1 = """
    CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, source TEXT NOT NULL,
        kind TEXT NOT NULL, direction TEXT, gait_type TEXT, cadence_spm REAL, score INTEGER, duration_s REAL,
        report_json TEXT NOT NULL);
    CREATE TABLE rule_results (session_id INTEGER NOT NULL, rule_id TEXT NOT NULL, title TEXT,
        status TEXT NOT NULL, value REAL, unit TEXT, PRIMARY KEY (session_id, rule_id));"""


def test_a_schema_1_history_gains_key_frames_and_keeps_its_sessions(tmp_path):
    path = _old_history(tmp_path / "old.sqlite", SCHEMA_1, 1)
    store = History(path)
    assert [s["source"] for s in store.list_sessions()] == ["old.mp4"]
    sid = store.save(fake_report(70, 175.0, 6.0), "new.mp4", key_frames=[("k", jpeg())])
    assert len(store.key_frames(sid)) == 1


def test_forward_baseline_is_marked_replaced_and_cleared(tmp_path):
    store = History(tmp_path / "h.sqlite")
    assert store.baseline() is None
    fwd = store.save(fake_report(40, 165.0, 5.0, direction="forward"), "forward.mp4")
    fwd2 = store.save(fake_report(40, 168.0, 5.0, direction="forward"), "forward2.mp4")
    back = store.save(fake_report(70, 180.0, 6.0), "back.mp4")
    store.set_baseline(fwd)
    assert store.baseline_id() == fwd and store.baseline()["source"] == "forward.mp4"
    store.set_baseline(fwd2)  # one baseline at a time
    assert store.baseline_id() == fwd2
    with pytest.raises(InputError, match="backward running"):
        store.set_baseline(back)
    with pytest.raises(InputError, match="no session 999"):
        store.set_baseline(999)
    assert store.baseline_id() == fwd2  # a refused mark changes nothing
    store.clear_baseline()
    assert store.baseline() is None
    store.set_baseline(fwd)
    store.delete(fwd)
    assert store.baseline() is None  # deleting the baseline session unsets it


def test_another_programs_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "contacts.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    con.execute("INSERT INTO contacts VALUES ('Ann', '123')")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(OutputError, match="another program's database"):
        History(path).save(fake_report(50, 170.0, 5.0), "a.mp4")
    with pytest.raises(OutputError, match="another program's database"):
        History(path).list_sessions()
    assert path.read_bytes() == before


def test_a_new_history_is_marked_as_formcheck_s_and_kept_in_wal_mode(tmp_path):
    path = tmp_path / "h.sqlite"
    History(path).save(fake_report(50, 170.0, 5.0), "a.mp4")
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x46434B48
    con.close()


def test_a_deleted_session_leaves_none_of_its_stills_in_the_file(tmp_path):
    path = tmp_path / "h.sqlite"
    store = History(path)
    still = b"\xff\xd8\xff" + b"RUNNER-PRIVATE-PICTURE" * 100
    sid = store.save(fake_report(50, 170.0, 5.0), "a.mp4", key_frames=[("k", still)])
    store.save(fake_report(60, 172.0, 5.0), "b.mp4")
    store.delete(sid)
    leftovers = b"".join(p.read_bytes() for p in tmp_path.glob("h.sqlite*"))
    assert b"RUNNER-PRIVATE-PICTURE" not in leftovers


def test_a_locked_history_says_busy_and_loses_nothing(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite"
    store = History(path)
    store.save(fake_report(50, 170.0, 5.0), "a.mp4")
    monkeypatch.setattr(History, "busy_timeout_s", 0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutputError, match="busy.*Nothing was lost"):
            store.save(fake_report(60, 172.0, 5.0), "b.mp4")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [s["source"] for s in store.list_sessions()] == ["a.mp4"]


def test_a_damaged_history_file_says_so_and_how_to_start_again(tmp_path):
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"SQLite format 3\0" + b"\x13" * 4000)
    with pytest.raises(OutputError, match="damaged or not a database. Move it away"):
        History(path).list_sessions()


def test_one_damaged_row_does_not_break_the_others_or_the_baseline(tmp_path):
    path = tmp_path / "h.sqlite"
    store = History(path)
    fwd = store.save(fake_report(40, 165.0, 5.0, direction="forward"), "forward.mp4")
    store.set_baseline(fwd)
    bad = store.save(fake_report(60, 172.0, 5.0), "b.mp4")
    con = sqlite3.connect(path)
    con.execute("UPDATE sessions SET report_json = '{not json' WHERE id = ?", (bad,))
    con.commit()
    con.close()
    assert store.get(bad)["report"]["rules"] == [] and store.get(bad)["report"]["damaged"]
    assert store.baseline()["source"] == "forward.mp4"
    assert len(store.list_sessions()) == 2


def test_a_schema_2_history_is_marked_as_formcheck_s_and_keeps_its_sessions(tmp_path):
    """Schema 2 files (before the application id) are formcheck's own: upgraded, not refused."""
    from formcheck.outputs.history import _SCHEMA

    path = _old_history(tmp_path / "v2.sqlite", _SCHEMA, 2)
    store = History(path)
    assert [s["source"] for s in store.list_sessions()] == ["old.mp4"]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x46434B48
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
