"""The shareable HTML report: every section present, self-contained (no external URLs)."""

from __future__ import annotations

import dataclasses
import re

import cv2
import numpy as np
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.cli import main
from formcheck.io.writer import H264Writer
from formcheck.outputs.html_report import SECTIONS, build_html, html_path, key_frames, report_from_json
from formcheck.outputs.report import VideoRecord
from formcheck.pipeline import analyse_pose


@pytest.fixture(autouse=True)
def own_history(tmp_path, monkeypatch):
    """Reports look up the forward baseline in the history: never the user's own file here."""
    monkeypatch.setenv("FORMCHECK_HISTORY", str(tmp_path / "history.sqlite"))


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def analysed(**kw):
    g = Gait2D(**kw)
    return analyse_pose(make_series(g), VideoRecord(path="synthetic/run.mp4"))


def assert_self_contained(page: str):
    assert not EXTERNAL.search(page)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page


def test_the_page_has_every_section_and_no_external_urls():
    report, _ = analysed(elbow_deg=160.0, fps=30.0)
    page = build_html(report.to_dict(), {k: np.asarray(v).tolist() for k, v in report.per_frame.items()})
    for sid in SECTIONS:
        assert f'id="{sid}"' in page
    # the app's five plots: trunk lean, elbow, feet, cadence, score
    assert page.count("data:image/png;base64,") == 5
    assert "elbow angle over time" in page and "cadence per step" in page
    assert "Elbows near 90°" in page and "Drill:" in page and "Russian twists" in page
    assert "Beginner interval plan" in page and "60 fps" in page
    assert page.count("<tr>") >= len(report.contacts) + len(report.rules)
    assert_self_contained(page)


def test_text_is_escaped():
    report, _ = analysed()
    d = report.to_dict()
    d["video"]["path"] = "run<img src=x onerror=alert(1)>.mp4"
    page = build_html(d)
    assert "<img src=x" not in page and "run&lt;img src=x" in page


def test_from_saved_json_and_csv_via_the_cli(tmp_path):
    report, _ = analysed(lean_deg=-6.0)
    report.write_json(tmp_path / "run.formcheck.json")
    report.write_csv(tmp_path / "run.formcheck.csv")
    assert main(["report", str(tmp_path / "run.formcheck.json")]) == 0
    out = tmp_path / "run.formcheck.html"
    page = out.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'id="{sid}"' in page
    assert page.count("data:image/png;base64,") == 5  # the plots, from the CSV read back
    assert "Slight forward lean" in page
    assert_self_contained(page)


def test_old_json_without_coaching_still_ranks_fixes(tmp_path):
    report, _ = analysed(elbow_deg=160.0)
    report.coaching = None
    path = report.write_json(tmp_path / "old.formcheck.json")
    page = report_from_json(path).read_text(encoding="utf-8")
    assert "1. Elbows near 90°" in page


def test_bad_json_is_an_input_error(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    assert main(["report", str(bad)]) == 2
    assert "not a formcheck JSON report" in capsys.readouterr().err


def test_html_path_names():
    assert html_path("a/run.mp4").name == "run.formcheck.html"
    assert html_path("a/run.formcheck.json", "b") .as_posix() == "b/run.formcheck.html"


def test_key_frames_from_a_video_show_the_skeleton(tmp_path):
    g = Gait2D(fps=30.0, duration_s=4.0, elbow_deg=160.0)
    wide = make_series(g)
    left = np.nanmin(wide.xy[..., 0]) - 50  # a picture 640 wide, the runner in it: quick to encode
    width = max(640, int(np.nanmax(wide.xy[..., 0] - left)))
    pose = dataclasses.replace(wide.with_xy(wide.xy - [left, 0]), width=width)
    report, ev = analyse_pose(pose, VideoRecord(path="run.mp4"))
    clip = tmp_path / "run.mp4"
    with H264Writer(clip, fps=30.0, width=pose.width, height=pose.height) as writer:
        for _ in range(len(pose)):
            writer.write(np.zeros((pose.height, pose.width, 3), np.uint8))
    frames = key_frames(clip, ev, report.coaching.fixes)
    assert frames
    caption, png = frames[0]
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == 480 and img.max() > 0  # skeleton drawn on a black frame
    page = build_html(report.to_dict(), frames=frames)
    assert page.count("data:image/png;base64,") == len(frames)
    assert_self_contained(page)


def test_intervals_and_a_long_session_note_are_shown():
    from formcheck.coaching.coach import session_guidance

    report, _ = analysed()
    d = report.to_dict()
    d["coaching"]["sessions"] = session_guidance(session_minutes=45)
    intervals = [{"kind": "walk_backward", "label": "walking backwards", "start_s": 0.0, "end_s": 300.0,
                  "cadence_spm": 110.0},
                 {"kind": "run_backward", "label": "jogging/running backwards", "start_s": 300.0, "end_s": 330.0,
                  "cadence_spm": 178.0}]
    page = build_html(d, intervals=intervals)
    assert "Intervals in this clip" in page and "jogging/running backwards" in page
    assert "45 minutes" in page
    assert_self_contained(page)


def test_key_frame_skeleton_is_thick_and_outlined_on_any_background():
    """Shared stills are small: the skeleton must stay clearly visible after scaling."""
    from formcheck.outputs.render import KEY_NEAR_BGR, draw_key_frame_skeleton

    pose = make_series(Gait2D(fps=30.0, duration_s=1.0))
    xy = pose.xy[10].copy()  # the runner fills about 80 % of a 480 x 360 still
    lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    xy = (xy - lo) * (290 / (hi - lo)[1]) + [150, 35]
    for grey in (30, 128, 230):  # dark, mid and bright backgrounds
        bgr = np.full((360, 480, 3), grey, np.uint8)
        draw_key_frame_skeleton(bgr, xy, "left")
        near = (np.abs(bgr.astype(int) - KEY_NEAR_BGR).sum(axis=2) < 40)
        outline = bgr.max(axis=2) < 15
        assert outline.sum() > 0.5 * near.sum()  # a dark outline all along the coloured lines
        # stroke width: coloured pixels per pixel of near-side leg length, at least 3 px
        from formcheck import pose as P
        leg = sum(np.linalg.norm(xy[a] - xy[b]) for a, b in [(P.LEFT_HIP, P.LEFT_KNEE), (P.LEFT_KNEE, P.LEFT_ANKLE)])
        assert near.sum() / leg >= 3.0
        assert near.sum() / leg <= 12.0  # but not a blob hiding the posture


def test_backward_clip_is_compared_with_the_forward_baseline():
    forward, _ = analysed(backward=False, cadence=165.0, step_length_leg=1.0)
    quick, _ = analysed(cadence=185.0, step_length_leg=0.6)
    slow, _ = analysed(cadence=150.0, step_length_leg=1.2)
    good_page = build_html(quick.to_dict(), baseline=forward.to_dict())
    section = good_page.split('id="baseline"')[1].split("</section>")[0]
    assert "Backward cadence at least your forward cadence" in section and "shorter steps, good" in section
    assert section.count(">pass<") == 2
    slow_section = build_html(slow.to_dict(), baseline=forward.to_dict()).split('id="baseline"')[1]
    slow_section = slow_section.split("</section>")[0]
    assert slow_section.count(">caution<") == 2 and "quicker" in slow_section
    assert "No forward-running baseline yet" in build_html(quick.to_dict())
    assert "Mark it as your forward-running baseline" in build_html(forward.to_dict())


def test_report_from_json_uses_the_history_baseline(tmp_path, monkeypatch):
    from formcheck.outputs.history import History

    monkeypatch.setenv("FORMCHECK_HISTORY", str(tmp_path / "h.sqlite"))
    forward, _ = analysed(backward=False, cadence=165.0, step_length_leg=1.0)
    store = History()
    store.set_baseline(store.save(forward, "my_forward_run.mp4"))
    report, _ = analysed(cadence=185.0, step_length_leg=0.6)
    page = report_from_json(report.write_json(tmp_path / "back.formcheck.json")).read_text(encoding="utf-8")
    assert "Baseline: run.mp4, forward running." in page and "shorter steps, good" in page


def test_jpeg_key_frames_are_embedded_as_jpeg():
    ok, data = cv2.imencode(".jpg", np.full((30, 40, 3), 100, np.uint8))
    page = build_html(analysed()[0].to_dict(), frames=[("still", data.tobytes())])
    assert page.count("data:image/jpeg;base64,") == 1


POISON = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _poisoned(value, numbers: bool):
    """Every string (and with ``numbers``, every number) of a report replaced by markup."""
    if isinstance(value, dict):
        return {k: _poisoned(v, numbers) for k, v in value.items()}
    if isinstance(value, list):
        return [_poisoned(v, numbers) for v in value]
    if isinstance(value, str) or (numbers and isinstance(value, (int, float)) and not isinstance(value, bool)):
        return POISON
    return value


class _Markup(__import__("html.parser").parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


@pytest.mark.parametrize("numbers", [False, True, "plan minutes"], ids=["strings", "strings and numbers", "plan"])
def test_a_poisoned_json_report_never_injects_markup(tmp_path, numbers, capsys):
    """A coach opens a JSON someone shared: whatever its strings and numbers hold, the page runs no script.
    A field of the wrong type is the user's to fix (exit 2, one line), never an internal error."""
    import json

    report, _ = analysed(elbow_deg=160.0, fps=30.0)
    src = tmp_path / "shared.formcheck.json"
    d = report.to_dict()
    if numbers == "plan minutes":  # the one number printed as it came
        d["coaching"]["plan"]["minutes"] = [POISON, POISON]
    src.write_text(json.dumps(_poisoned(d, numbers is True)))
    code = main(["report", str(src), "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    if code != 0:
        assert numbers and code == 2 and "wrong type" in err and err.count("\n") == 1
        return
    page = html_path(src, tmp_path).read_text()
    parser = _Markup()
    parser.feed(page)
    assert "script" not in parser.tags and parser.handlers == []
    assert "<script" not in page and "&lt;script&gt;" in page
