"""The app as a user sees it: a real Streamlit server and headless Chromium (Playwright), offline.

Everything runs inside a network namespace of the test's own that has only loopback
(see ../shared/design/LIVE_TESTING.md), so no traffic can leave the machine. The
server and Chromium are both started with ``ip netns exec``; Playwright talks to
Chromium over a pipe, so the test process itself stays outside.

Needs root (for ``ip netns``), iproute2 and Debian's ``chromium``; skipped only when
Chromium is not installed. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from support.browser import CHROMIUM, make_y4m, streamlit_server
from support.paths import ROOT, SAMPLES, TREADMILL

ARTIFACTS = ROOT / "test-artifacts"
BASE_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
ANALYSIS_TIMEOUT_MS = 6 * 60 * 1000  # a 12 s clip takes 20-70 s on 2 busy cores

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed "
                       "(apt-get install chromium); the browser tests drive /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(netns, tmp_path_factory):
    """`streamlit run app.py` inside the namespace, with its own history file and the treadmill clip as sample."""
    if not TREADMILL.exists():
        pytest.fail(f"missing test clip {TREADMILL}: ../shared/videos must sit beside the repo")
    work = tmp_path_factory.mktemp("server")
    samples = work / "samples"
    samples.mkdir()
    (samples / TREADMILL.name).symlink_to(TREADMILL)
    with streamlit_server(netns, work, samples) as running:
        yield running


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Until the script run is over and no element is faded as stale (what a user waits for)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon],"
                           " [data-testid=stStatusWidgetRunningManIcon]')"
                           " && !document.querySelector('[data-stale=true]')", timeout=timeout_ms)


def shoot(page, name: str, full: bool = False) -> Path:
    """Screenshot into test-artifacts/; full=True grows the viewport to the app's whole height first
    (Streamlit scrolls an inner element, so Playwright's full_page alone misses most of it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full:
        size = page.viewport_size
        height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                               " return m ? m.scrollHeight : document.body.scrollHeight; }")
        page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 9000)})
        page.wait_for_timeout(1500)
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
    else:
        page.screenshot(path=str(path))
    return path


def main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


VIDEO_STATE = ("() => { const v = document.querySelector('[data-testid=stMain] video');"
               " return v ? {ready: v.readyState, duration: v.duration, time: v.currentTime} : null; }")


@pytest.mark.slow
def test_upload_review_in_the_browser(server, chromium_in_ns):
    from playwright.sync_api import sync_playwright

    from formcheck.outputs import history

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_in_ns, headless=True, args=BASE_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server["url"], timeout=60_000)
            sample = page.get_by_role("button", name=f"Try sample: {TREADMILL.stem}")
            sample.wait_for(timeout=60_000)
            assert "400 MB" in main_text(page)
            wait_idle(page)
            shoot(page, "01_upload_tab")

            sample.click()
            page.get_by_text(re.compile(r"Finding the runner's pose: frame \d+ of 360")).wait_for(timeout=60_000)
            shoot(page, "02_progress")
            page.get_by_text("Verdict per cue").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
            page.get_by_text("Per-frame data (CSV)").wait_for(timeout=60_000)  # the last thing drawn
            page.wait_for_function("() => { const v = document.querySelector('[data-testid=stMain] video');"
                                   " return v && v.readyState >= 1 && v.duration > 0; }", timeout=60_000)
            video = page.evaluate(VIDEO_STATE)
            assert video["ready"] >= 1 and video["duration"] == pytest.approx(12.0, abs=0.5)

            sessions = history.list_sessions(path=server["history"])
            assert len(sessions) == 1, "the analysis was saved to history"
            report = history.get(sessions[0]["id"], path=server["history"])["report"]
            text = main_text(page)
            for rule in report["rules"]:
                assert rule["title"] in text, f"verdict for '{rule['title']}' is shown"
            for word in ("Trunk lean", "Cadence", "Score", "Steps", "Downloads", "Annotated video (MP4)",
                         "Report (JSON)", "Per-frame data (CSV)"):
                assert word in text
            assert page.locator("[data-testid=stMain] [data-testid=stImage] img").count() >= 5  # the plots
            wait_idle(page)
            shoot(page, "03_results", full=True)

            # A finding's frame button jumps the video there (whole seconds) and shows the exact frame.
            jump = page.locator("[data-testid=stMain] button:visible").filter(has_text=re.compile(r"^\d+\.\d s$"))
            target = next(jump.nth(i) for i in range(jump.count())
                          if float(jump.nth(i).inner_text().split()[0]) >= 2.0)
            seconds = float(target.inner_text().split()[0])
            target.click()
            page.get_by_text("The exact frame").wait_for(timeout=60_000)
            page.wait_for_function(f"() => {{ const v = document.querySelector('[data-testid=stMain] video');"
                                   f" return v && Math.abs(v.currentTime - {int(seconds)}) < 0.6; }}",
                                   timeout=30_000)
            wait_idle(page)
            shoot(page, "04_jumped")

            # Uploading the same clip reuses the cached analysis (same content, same settings).
            t0 = time.monotonic()
            page.locator("[data-testid=stMain] input[type=file]").first.set_input_files(str(TREADMILL))
            page.get_by_text(re.compile(r"Analysed .* in \d+ s|Verdict per cue")).first.wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
            page.get_by_text("Verdict per cue").wait_for(timeout=60_000)
            assert time.monotonic() - t0 < 45
            assert len(history.list_sessions(path=server["history"])) == 1, "not analysed (or saved) twice"

            page.get_by_role("tab", name="History").click()
            page.get_by_text(re.compile(rf"{re.escape(TREADMILL.name)}: forward run, score \d+/100")).wait_for(
                timeout=30_000)  # the stored session's verdicts
            page.get_by_text("Trends", exact=True).wait_for(timeout=30_000)
            wait_idle(page)
            shoot(page, "05_history", full=True)
        finally:
            browser.close()


@pytest.mark.slow
def test_two_sessions_analysing_at_once(server, chromium_in_ns, tmp_path):
    """A second browser session analysing while the first does waits its turn and says so;
    both get their verdicts, and the server answers a third visitor meanwhile."""
    from playwright.sync_api import sync_playwright
    from support.synthetic import GaitParams, render_clip

    from formcheck.outputs import history

    small = tmp_path / "short_jog.mp4"
    render_clip(GaitParams(duration_s=3.0, width=320, height=240, seed=5), small)
    before = len(history.list_sessions(path=server["history"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_in_ns, headless=True, args=BASE_ARGS)
        try:
            first, second = (browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2))
            for page in (first, second):
                page.goto(server["url"], timeout=60_000)
                page.get_by_role("button", name=f"Try sample: {TREADMILL.stem}").wait_for(timeout=60_000)
                wait_idle(page)
            first.get_by_role("button", name=f"Try sample: {TREADMILL.stem}").click()
            first.get_by_text(re.compile(r"Finding the runner's pose: frame \d+ of 360")).wait_for(timeout=60_000)

            second.locator("[data-testid=stMain] input[type=file]").first.set_input_files(str(small))
            second.get_by_text("Waiting for another analysis on this server to finish").wait_for(timeout=60_000)
            shoot(second, "08_second_session_waits")

            third = browser.new_page()
            third.goto(server["url"], timeout=60_000)
            third.get_by_role("button", name=f"Try sample: {TREADMILL.stem}").wait_for(timeout=60_000)

            # once its turn comes, the waiting session shows its own progress (the status stays open)
            second.get_by_text(re.compile(r"Finding the runner's pose: frame \d+ of \d+")).wait_for(
                timeout=ANALYSIS_TIMEOUT_MS)
            for page in (first, second):
                page.get_by_text("Verdict per cue").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
            assert "short_jog.mp4" in main_text(second) and "backward run" in main_text(second)
            assert not first.locator("[data-testid=stException]").count()
            assert not second.locator("[data-testid=stException]").count()
            wait_idle(second)
            shoot(second, "09_second_session_result")
        finally:
            browser.close()
    sessions = history.list_sessions(path=server["history"])
    assert len(sessions) == before + 2, "both analyses were saved"


@pytest.mark.slow
def test_live_check_in_the_browser(server, chromium_in_ns, tmp_path):
    from playwright.sync_api import sync_playwright

    from formcheck.outputs import history

    camera = make_y4m(TREADMILL, tmp_path / "camera.y4m")
    args = BASE_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-video-capture={camera}", "--allow-loopback-in-peer-connection",
                        "--disable-features=WebRtcHideLocalIpsWithMdns"]
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_in_ns, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.on("console", lambda m: console.append(m.text))
            page.goto(server["url"], timeout=60_000)
            page.get_by_role("tab", name="Live treadmill check").click()

            frame = None  # the webrtc component lives in an iframe
            deadline = time.monotonic() + 60
            while frame is None and time.monotonic() < deadline:
                frame = next((f for f in page.frames if "webrtc_streamer" in f.url
                              and f.get_by_role("button", name="START").count()), None)
                page.wait_for_timeout(500)
            assert frame is not None, "the START button of the live component appeared"
            frame.get_by_role("button", name="START").click()

            deadline = time.monotonic() + 60
            while not any("connectionstatechange connected" in line for line in console):
                assert time.monotonic() < deadline, f"WebRTC never connected; console: {console[-15:]}"
                page.wait_for_timeout(500)  # (Playwright delivers events while it waits, not in time.sleep)

            stats = page.locator("[data-testid=stMarkdownContainer]").filter(
                has_text=re.compile(r"frames processed: \d+"))
            stats.wait_for(timeout=60_000)
            page.wait_for_function("() => /frames processed: [1-9]\\d*/.test(document.body.innerText)",
                                   timeout=60_000)
            try:
                page.get_by_text(re.compile(r"cadence \d+ steps/min")).wait_for(timeout=120_000)
            except Exception as exc:
                shoot(page, "06_live_no_cadence")
                raise AssertionError(f"no rolling cadence within 120 s; page says: {stats.inner_text()}") from exc
            page.wait_for_timeout(5000)
            line = stats.inner_text()
            measured = _live_numbers(line)
            video = frame.evaluate("() => { const v = document.querySelector('video');"
                                   " return v && {w: v.videoWidth, h: v.videoHeight, t: v.currentTime}; }")
            assert video and video["w"] > 0 and video["t"] > 0, "annotated frames are playing in the component"
            shoot(page, "06_live")
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "live_metrics.json").write_text(json.dumps({"page": line, **measured, "video": video},
                                                                    indent=2))

            before = len(history.list_sessions(path=server["history"]))
            frame.get_by_role("button", name="STOP").click()
            page.get_by_text("Session summary").wait_for(timeout=60_000)
            wait_idle(page)
            shoot(page, "07_live_summary")
            sessions = history.list_sessions(path=server["history"])
            assert len(sessions) == before + 1 and sessions[0]["kind"] == "live"
            assert measured["frames"] > 30 and measured["fps"] > 0
        finally:
            browser.close()


def _live_numbers(text: str) -> dict:
    def num(pattern):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else None

    return {"frames": num(r"frames processed: (\d+)"), "fps": num(r"([\d.]+) fps"),
            "latency_ms": num(r"latency (\d+) ms"), "lag_ms": num(r"lag (\d+) ms"),
            "cadence_spm": num(r"cadence (\d+) steps/min")}


def test_html_report_opens_offline_in_chromium_with_every_section(tmp_path):
    """The shareable report is one file: it must render in a browser with no network at all."""
    from playwright.sync_api import sync_playwright

    from formcheck.api import report_from_clip

    clip = SAMPLES / "straight_arms.mp4"
    page_path = report_from_clip(clip, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=BASE_ARGS + ["--blink-settings=imagesEnabled=true"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        text = page.inner_text("body")
        for heading in ("Summary", "Top fixes", "Against your forward running", "Filming", "Sessions", "Over time",
                        "Key frames", "All findings", "Steps"):
            assert heading.lower() in text.lower(), heading
        assert "Bend your elbows" in text  # the top fix for this sample
        images = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert images and all(w > 0 for w in images)  # inline images decoded
        assert all(u.startswith(("file:", "data:")) for u in requests), requests
        page.screenshot(path=str(ARTIFACTS / "html_report.png"), full_page=True)
        browser.close()
