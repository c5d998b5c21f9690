"""The Streamlit app's page logic, through streamlit.testing's AppTest (no browser)."""

from __future__ import annotations

import re

import pytest
from support.paths import ROOT, TREADMILL

APP = ROOT / "app.py"
RULE_TITLES = ["Backward running", "Slight forward lean", "Stable upper body", "Elbows near 90°",
               "Arms swing opposite to legs", "Quick steps (cadence)", "Short steps",
               "Foot lands close behind the body", "Land on the forefoot", "No heel dragging",
               "Not too bouncy", "Look over the shoulder now and then", "Ground contact time"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Own history file and sample folder per test; nothing touches the user's data."""
    monkeypatch.setenv("FORMCHECK_HISTORY", str(tmp_path / "history.sqlite"))
    samples = tmp_path / "samples"
    samples.mkdir()
    monkeypatch.setenv("FORMCHECK_SAMPLE_DIR", str(samples))
    return samples


def new_app(timeout: float = 60):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=timeout)


def unescaped(markdown: str) -> str:
    """What a reader sees of Markdown the app escaped (``plain``): the text without its backslashes."""
    return re.sub(r"\\(.)", r"\1", str(markdown))


def texts(at) -> str:
    parts = [unescaped(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_app_loads_with_three_tabs_and_settings():
    at = new_app().run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Upload review", "Live treadmill check", "History"]
    assert not at.error
    labels = [w.label for w in at.sidebar.number_input]
    assert {"Runner height (m)", "Treadmill belt speed (km/h)", "Slow-motion factor",
            "Longest clip to analyse (s)"} <= set(labels)
    body = texts(at)
    assert "400 MB" in body  # the upload limit is stated
    assert "No sample clips found" in body  # the sample folder is empty: said, not an error
    assert "No sessions yet" in body


@pytest.mark.parametrize("name,content,expect", [
    ("run.mp4", b"this is text pretending to be a video\n" * 20, "run.mp4"),
    ("empty.mov", b"", "empty"),
])
def test_bad_upload_shows_an_error_panel_not_an_exception(name, content, expect):
    at = new_app().run()
    at.file_uploader(key="clip_upload").set_value((name, content, "application/octet-stream")).run()
    assert not at.exception
    assert at.error, "an error panel is shown"
    assert expect in at.error[0].value
    assert "Traceback" not in at.error[0].value
    # the app keeps serving: another rerun works
    at.run()
    assert not at.exception


def test_upload_checks_type_and_size():
    from formcheck.app import upload
    from formcheck.errors import InputError

    upload.check_upload("run.MP4", 10 * 1024 * 1024, limit_mb=400)
    with pytest.raises(InputError, match="limit is 400 MB"):
        upload.check_upload("big.mp4", 401 * 1024 * 1024, limit_mb=400)
    with pytest.raises(InputError, match=r"\.mp4, \.mov"):
        upload.check_upload("notes.txt", 10)
    assert upload.upload_limit_mb() <= upload.MAX_UPLOAD_MB


@pytest.mark.parametrize("name,expect", [("clip.mp4", "clip.mp4"), ("notes.txt", "not a video file")])
def test_review_path_with_a_text_file_renders_an_error(tmp_path, name, expect):
    """The browser's uploader refuses other extensions itself; the app's own check covers the rest."""
    from streamlit.testing.v1 import AppTest

    bad = tmp_path / name
    bad.write_text("not a video")

    def script(clip: str):
        from formcheck.app.upload import review_path

        review_path(clip)

    at = AppTest.from_function(script, args=(str(bad),), default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1 and expect in at.error[0].value


def test_over_long_clip_is_refused(tmp_path):
    from streamlit.testing.v1 import AppTest

    def script(clip: str):
        from formcheck.app.settings import Settings
        from formcheck.app.upload import review_path

        review_path(clip, Settings(max_duration_s=5))

    at = AppTest.from_function(script, args=(str(TREADMILL),), default_timeout=30).run()
    assert not at.exception
    assert "12 s long" in at.error[0].value and "5 s" in at.error[0].value


def test_bad_thresholds_toml_is_reported_in_the_sidebar():
    at = new_app().run()
    at.sidebar.file_uploader(key="thresholds_toml").set_value(
        ("mine.toml", b"[thresholds]\ncadence_pass = 'fast'\n", "application/toml")).run()
    assert not at.exception
    assert any("cadence_pass" in unescaped(e.value) and "mine.toml" in unescaped(e.value) for e in at.sidebar.error)
    good = b"[thresholds]\ncadence_pass = 175\n"
    at.sidebar.file_uploader(key="thresholds_toml").set_value(("mine.toml", good, "application/toml")).run()
    assert not at.sidebar.error
    cadence = [w for w in at.sidebar.number_input if w.label.startswith("Cadence, pass")][0]
    assert cadence.value == 175


@pytest.mark.parametrize("toml", [b"thresholds = 5\n", b"[thresholds]\ncadence_pass = 5000\n",
                                  b"[thresholds]\nelbow_pass = [110, 70]\n", b"[thresholds]\ncadence_pass = nan\n",
                                  b"[thresholds]\nelbow_pass = ['a', 'b']\n", b"x = " + b"[" * 3000 + b"]" * 3000,
                                  b"\xff\xfe not text"])
def test_hostile_thresholds_toml_gives_an_error_and_keeps_the_defaults(toml):
    """Values the widgets cannot show used to break the whole page; now the file is refused, the page stays."""
    at = new_app().run()
    at.sidebar.file_uploader(key="thresholds_toml").set_value(("coach.toml", toml, "application/toml")).run()
    assert not at.exception
    assert any("coach.toml" in unescaped(e.value) for e in at.sidebar.error)
    cadence = [w for w in at.sidebar.number_input if w.label.startswith("Cadence, pass")][0]
    assert cadence.value == 170  # the default, not the file's


def test_units_from_height_and_belt_speed():
    from formcheck.outputs.steps import unit_lines

    lines = unit_lines(0.9, 170.0, 1.80, 9.0)
    assert "0.95 m" in lines[0] and "0.53" in lines[0]  # leg = 0.53 x height, said to be an approximation
    assert "0.86 m" in lines[1] and "8.8 km/h" in lines[1]
    assert "0.88 m" in lines[2]  # 9 km/h / (170/60 steps/s)
    assert unit_lines(0.9, 170.0, None, None) == []


@pytest.mark.slow
def test_sample_clip_full_review(isolated):
    """Click a sample: verdict per cue, plots, step table, downloads, jump buttons; reruns reuse the result."""
    if not TREADMILL.exists():
        pytest.fail(f"missing test clip {TREADMILL}")
    (isolated / TREADMILL.name).symlink_to(TREADMILL)
    at = new_app(timeout=300).run()
    at.button(key=f"sample_{TREADMILL.name}").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    body = texts(at)
    for title in RULE_TITLES:
        assert f"**{title}**" in body
    assert "Verdict per cue" in body and "PASS" in body
    assert len(at.get("image")) >= 5  # trunk lean, elbow, feet, cadence, score
    assert len(at.dataframe) >= 1
    downloads = {b.label for b in at.get("download_button") if b.key.startswith("dl_")}
    assert downloads == {"Annotated video (MP4)", "Report (JSON)", "Per-frame data (CSV)", "Shareable report (HTML)"}
    results = at.session_state["results"]
    assert len(results) == 1
    result = next(iter(results.values()))
    assert result.video_path.exists() and result.history_id is not None
    # stills with the skeleton kept with the session; a forward clip can become the baseline
    from formcheck.outputs.history import History

    assert 1 <= len(History().key_frames(result.history_id)) <= 3
    at.button(key=f"res_baseline_{result.history_id}").click().run(timeout=60)
    assert History().baseline_id() == result.history_id
    assert "This is your forward-running baseline" in texts(at)

    # A jump button sets the video's start time; the analysis is not redone.
    jump = next(b for b in at.button if b.key and b.key.startswith("jump_"))
    jump.click().run(timeout=60)
    assert not at.exception
    assert any("The exact frame" in c.value for c in at.caption)
    assert list(at.session_state["results"]) == list(results)

    # The clip is in the history tab now.
    from formcheck.outputs import history

    sessions = history.list_sessions()
    assert len(sessions) == 1 and sessions[0]["source"] == TREADMILL.name
    assert any(f"#{sessions[0]['id']}" in str(o) for o in at.selectbox(key="history_pick").options)


def test_a_slow_motion_clip_is_analysed_again_at_its_factor_in_one_click(isolated):
    """A jog filmed at 120 fps and saved at 30, as a phone's slow-motion mode does: flagged, not
    judged, and one click on the note's button times it as it was run."""
    from support.synthetic import SLOW_MOTION_RUN, render_clip

    slowed = isolated / "slowed_jog.mp4"
    truth = render_clip(SLOW_MOTION_RUN, slowed, playback_fps=30.0)
    at = new_app(timeout=300).run()
    at.button(key=f"sample_{slowed.name}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "This looks like a slow-motion clip" in texts(at)
    again = next(b for b in at.button if b.key and b.key.startswith("slowmo_"))
    assert again.label == "Analyse again as 4x slow motion"
    again.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.sidebar.number_input(key="slowmo_factor").value == 4.0
    # the results are keyed by clip and settings, the slow-motion factor first
    report = next(r.report for r in at.session_state["results"].values() if r.key.split(":", 1)[1].startswith("[4.0,"))
    assert not report.video.slow_motion_suspected
    assert report.cadence_spm == pytest.approx(truth["cadence_spm"], rel=0.03)
    assert not any(b.key and b.key.startswith("slowmo_") for b in at.button)
    # one clip, one session: the re-analysis replaces the flagged one in the history
    from formcheck.outputs.history import History

    sessions = History(isolated.parent / "history.sqlite").list_sessions()
    assert len(sessions) == 1 and sessions[0]["cadence_spm"] == pytest.approx(report.cadence_spm, rel=1e-3)


def test_live_tab_offers_the_interval_timer_and_describes_the_plan():
    at = new_app().run()
    toggle = at.toggle(key="live_timer")
    assert toggle.label.startswith("Interval timer") and not toggle.value
    assert at.radio(key="live_timer_rounds").disabled
    toggle.set_value(True).run()
    assert not at.exception
    at.radio(key="live_timer_rounds").set_value(5).run()
    body = texts(at)
    assert "jog backwards 30 s" in body and "With 5 rounds: about 19 minutes" in body


def test_live_tab_offers_the_pose_on_every_nth_frame_for_a_slow_computer():
    at = new_app().run()
    choice = at.selectbox(key="live_pose_every")
    assert choice.value == 1 and choice.options == ["every frame", "every 2nd frame (slow computer)",
                                                    "every 3rd frame (slow computer)"]
    choice.set_value(2).run()
    assert not at.exception and at.selectbox(key="live_pose_every").value == 2


def test_live_page_text_shows_the_interval_and_whether_the_runner_follows_it():
    import numpy as np

    from formcheck.app.live import live_stats_markdown
    from formcheck.app.webrtc import LiveHolder
    from formcheck.live.session import LiveSession

    class NoOne:
        def detect(self, bgr, t_ms):
            return np.zeros((0, 33, 3))

    holder = LiveHolder()
    holder.session = LiveSession(estimator=NoOne())
    holder.apply_timer(4)  # switched on while the camera runs: starts with the next frame
    holder.session.process(np.zeros((120, 160, 3), np.uint8), 5_000.0)
    holder.session.process(np.zeros((120, 160, 3), np.uint8), 15_000.0)
    text = live_stats_markdown(holder)
    assert "**Interval: walk backwards, 4:50 left**" in text and "next: jog backwards 30 s" in text
    holder.apply_timer(None)
    assert "Interval" not in live_stats_markdown(holder)
    holder.session.close()


def _jpeg(grey: int) -> bytes:
    import cv2
    import numpy as np

    _, data = cv2.imencode(".jpg", np.full((90, 120, 3), grey, np.uint8))
    return data.tobytes()


def _synthetic_report(**kw) -> dict:
    from support.landmark_gait import Gait2D, make_series

    from formcheck.outputs.report import VideoRecord
    from formcheck.pipeline import analyse_pose

    return analyse_pose(make_series(Gait2D(fps=30.0, **kw)), VideoRecord(path="run.mp4"))[0].to_dict()


@pytest.fixture
def three_sessions():
    """A forward run, then a sloppy and a better backward session, with key frames."""
    from datetime import datetime, timedelta, timezone

    from formcheck.outputs.history import History

    store = History()
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    ids = {"forward": store.save(_synthetic_report(backward=False, cadence=165.0, step_length_leg=1.0),
                                 "forward.mp4", when=t0),
           "sloppy": store.save(_synthetic_report(cadence=150.0, step_length_leg=1.2, elbow_deg=160.0),
                                "week1.mp4", when=t0 + timedelta(days=1), key_frames=[("week 1 still", _jpeg(40))]),
           "good": store.save(_synthetic_report(cadence=182.0, step_length_leg=0.7), "week4.mp4",
                              when=t0 + timedelta(days=21),
                              key_frames=[("week 4 still", _jpeg(200)), ("week 4 contact", _jpeg(120))])}
    return store, ids


def test_history_compares_two_sessions_side_by_side(three_sessions):
    _, ids = three_sessions
    at = new_app().run()
    assert not at.exception
    # by default the newest session against the one before it
    assert at.selectbox(key="cmp_before").value == ids["sloppy"] and at.selectbox(key="cmp_after").value == ids["good"]
    body = texts(at)
    assert f"#{ids['sloppy']} → #{ids['good']}:" in body
    table = next(df.value for df in at.dataframe if "verdict" in df.value.columns).set_index("cue")
    for cue in ("Elbows near 90°", "Quick steps (cadence)", "Short steps"):
        assert table.loc[cue, "verdict"] == "✅ better", cue
        assert table.loc[cue, "status"] == "fail → pass"
    assert table.loc["Slight forward lean", "verdict"] == "= about the same"
    assert table.loc["Quick steps (cadence)", "change"].startswith("+3")  # 150 -> 182 steps/min
    captions = [c for img in at.get("image") for c in (img.proto.imgs[0].caption,) if c]
    assert {"week 1 still", "week 4 still", "week 4 contact"} <= set(captions)
    # swap them: the same cues now read as worse
    at.selectbox(key="cmp_before").set_value(ids["good"])
    at.selectbox(key="cmp_after").set_value(ids["sloppy"]).run()
    table = next(df.value for df in at.dataframe if "verdict" in df.value.columns).set_index("cue")
    assert table.loc["Elbows near 90°", "verdict"] == "⚠️ worse"
    at.selectbox(key="cmp_after").set_value(ids["good"]).run()
    assert "Pick two different sessions" in texts(at)


def test_mark_a_forward_session_as_baseline_and_see_backward_sessions_against_it(three_sessions):
    store, ids = three_sessions
    at = new_app().run()
    at.selectbox(key="history_pick").set_value(ids["forward"]).run()
    at.button(key=f"hist_baseline_{ids['forward']}").click().run()
    assert not at.exception and store.baseline_id() == ids["forward"]
    assert "This is your forward-running baseline" in texts(at)
    at.selectbox(key="history_pick").set_value(ids["good"]).run()
    assert "Against your forward running" in texts(at)
    good = " ".join(s.value for s in at.success)
    assert "Backward cadence at least your forward cadence" in good and "shorter steps, good" in good
    at.selectbox(key="history_pick").set_value(ids["sloppy"]).run()
    warned = " ".join(w.value for w in at.warning)
    assert "slower than your 165 forwards" in warned and "not shorter than your" in warned
    # a backward session offers no baseline button
    assert not [b for b in at.button if b.key and "_baseline_" in b.key]


def test_a_hostile_clip_name_shows_as_plain_text_in_the_shared_history():
    """The History tab is shared by a team: a file name is text, never a link or an image in others' pages."""
    from formcheck.outputs.history import History

    name = "[win a prize](http://evil.example) ![x](http://evil.example/x.png) :red[boo] <b>x</b>.mp4"
    History().save(_synthetic_report(), name)
    at = new_app().run()
    shown = [e.value for e in at.markdown if "win a prize" in e.value]
    assert shown and all("](http" not in v and "![" not in v and ":red[" not in v and "<b>" not in v for v in shown)
    assert any(name in unescaped(v) for v in shown)  # and the reader still sees the name as it is


def test_the_downloaded_json_names_the_clip_not_the_servers_folders():
    import json

    from support.landmark_gait import Gait2D, make_series

    from formcheck.app.clip_analysis import shareable_json
    from formcheck.outputs.report import VideoRecord
    from formcheck.pipeline import analyse_pose

    report = analyse_pose(make_series(Gait2D(fps=30.0)), VideoRecord(path="/tmp/formcheck-upload-x1/run.mp4"))[0]
    report.outputs = {"json": "/tmp/formcheck-app-y2/run.formcheck.json"}
    text = shareable_json(report, "run.mp4")
    assert "/tmp" not in text
    assert json.loads(text)["video"]["path"] == "run.mp4"


@pytest.fixture
def team_keys(tmp_path, monkeypatch):
    keys = tmp_path / "keys.toml"
    keys.write_text('ann = "ann-key-0123456789"\nbob = "bob-key-0123456789"\n')
    monkeypatch.setenv("FORMCHECK_ACCESS_KEYS", str(keys))
    monkeypatch.setattr("formcheck.app.login.WRONG_KEY_DELAY_S", 0.0)
    return keys


def _enter(at, key: str):
    at.text_input[0].input(key)
    return at.button[0].click().run()


def test_a_team_server_shows_nothing_before_a_right_key(team_keys):
    at = new_app().run()
    assert not at.exception and not at.tabs and not at.sidebar.number_input
    assert at.text_input[0].label == "Access key"
    at = _enter(at, "guess-guess-guess")
    assert not at.tabs and "not one of this server's access keys" in texts(at)
    at = _enter(at, "ann-key-0123456789")
    assert len(at.tabs) == 3 and "History of ann." in texts(at)


def test_each_athlete_sees_only_their_own_history(team_keys):
    from formcheck.outputs.history import History

    History.of_athlete("ann").save(_synthetic_report(), "ann_week1.mp4")
    History.of_athlete("bob").save(_synthetic_report(), "bob_week1.mp4")
    ann = _enter(new_app().run(), "ann-key-0123456789")
    bob = _enter(new_app().run(), "bob-key-0123456789")
    assert "ann_week1" in str(ann.dataframe[0].value) and "bob_week1" not in str(ann.dataframe[0].value)
    assert "bob_week1" in str(bob.dataframe[0].value) and "ann_week1" not in str(bob.dataframe[0].value)


def test_the_coach_filters_the_history_by_athlete():
    """Clips a batch saved per athlete (``formcheck batch --history``) show one athlete at a time."""
    from formcheck.outputs.history import History

    History.of_athlete("ann").save(_synthetic_report(), "ann_week1.mp4")
    History.of_athlete("bob").save(_synthetic_report(), "bob_week1.mp4")
    at = new_app().run()
    athlete = next(s for s in at.selectbox if s.label == "Athlete")
    assert athlete.options[1:] == ["ann", "bob"]
    at = athlete.set_value("bob").run()
    shown = str(at.dataframe[0].value)
    assert "bob_week1" in shown and "ann_week1" not in shown


def test_a_server_on_the_network_without_keys_serves_nothing(monkeypatch):
    import formcheck.app.login

    monkeypatch.setattr(formcheck.app.login, "listens_on_network", lambda address: True)
    at = new_app().run()
    assert not at.tabs and "listens on the network without access keys" in texts(at)


def test_an_unexpected_error_shows_a_reference_not_a_traceback(monkeypatch, caplog):
    import formcheck.app.page

    def broken(*args):
        raise RuntimeError("secret /srv/formcheck/internal path")

    monkeypatch.setattr(formcheck.app.page, "history_tab", broken)
    at = new_app().run()
    shown = texts(at) + "".join(str(e.value) for e in at.get("code"))
    assert "Something went wrong while showing the history" in shown and "reference" in shown
    assert "secret" not in shown and "Traceback" not in shown
    assert not [e for e in at.get("expander") if e.label == "Technical details"]
    reference = re.search(r"reference ([0-9a-f]{8})", shown)[1]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
    assert len(at.tabs) == 3  # the other tabs still serve


def test_an_analysis_past_its_deadline_stops_and_says_so(monkeypatch):
    import time

    import formcheck.app.progress as progress
    from formcheck.errors import BusyError

    class Bar:
        def progress(self, *args, **kwargs):
            return self

    display = progress.ProgressDisplay(Bar())
    time.sleep(0.2)  # waiting for the turn does not count
    display("pose", 10, 100)  # well within time
    monkeypatch.setattr(progress.time, "monotonic", lambda: display.opened + progress.DEADLINE_BASE_S + 51)
    with pytest.raises(BusyError, match="took longer than 3 min"):
        display("pose", 11, 100)
