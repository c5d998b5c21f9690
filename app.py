"""formcheck in the browser: ``streamlit run app.py``.

Three tabs:

* **Upload review**: drop a side-view clip (or try a sample), watch the progress,
  then see the annotated video, a verdict per coaching cue (with buttons that jump
  the video to the frames that show it), plots, a per-step table and downloads.
* **Live treadmill check**: webcam through streamlit-webrtc; each newest frame gets
  the pose, skeleton and per-cue traffic lights from a rolling 10 s analysis
  (``formcheck.live.session.LiveSession``, the same analysis code as for clips).
* **History**: every analysed clip and live session (``formcheck.outputs.history``), with a
  trend per cue.

This file only sets up the page and wires the tabs; each tab's code is in ``formcheck/app/``
(``upload``, ``results``, ``live``, ``history_page``, ...; session state in ``state``).

Environment variables:

* ``FORMCHECK_HISTORY``: history file (default ``~/.local/share/formcheck/history.sqlite``).
* ``FORMCHECK_SAMPLE_DIR``: folder of sample clips (default ``sample_videos/`` next to this file).
* ``FORMCHECK_ICE_LOOPBACK=1``: TEST-ONLY. Makes aiortc offer 127.0.0.1 as its ICE host
  candidate so a browser on the same machine can connect with loopback only (for the
  browser tests in a network namespace). Never set it for real use.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from formcheck.app.errors import show_unexpected
from formcheck.app.history_page import history_tab
from formcheck.app.live import live_tab
from formcheck.app.settings import sidebar
from formcheck.app.upload import upload_tab
from formcheck.io.native_logs import filter_native_logs

ROOT = Path(__file__).resolve().parent


def main() -> None:
    filter_native_logs()  # the server's own stderr stays; only native libraries' chatter goes
    st.set_page_config(page_title="formcheck: backward-running form", layout="wide")
    st.title("formcheck")
    st.caption("Checks backward-running (retro-running) form from a side-view video.")
    settings = sidebar()
    tab_upload, tab_live, tab_history = st.tabs(["Upload review", "Live treadmill check", "History"])
    with tab_upload:
        try:
            upload_tab(settings, ROOT / "sample_videos")
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "showing the upload page")
    with tab_history:  # before the live tab: the live page keeps its script run busy while playing
        try:
            history_tab()
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "showing the history")
    with tab_live:
        try:
            live_tab(settings)
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "running the live check")


if __name__ == "__main__":
    main()
