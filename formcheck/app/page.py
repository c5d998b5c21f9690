"""The whole page: settings, the door, and the three tabs, each kept serving if another fails."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from formcheck.app.errors import show_unexpected
from formcheck.app.history_page import history_tab
from formcheck.app.live import live_tab
from formcheck.app.login import visitor
from formcheck.app.settings import sidebar
from formcheck.app.upload import upload_tab
from formcheck.io.native_logs import filter_native_logs


def main(default_samples: Path) -> None:
    filter_native_logs()  # the server's own stderr stays; only native libraries' chatter goes
    st.set_page_config(page_title="formcheck: backward-running form", layout="wide")
    st.title("formcheck")
    st.caption("Checks backward-running (retro-running) form from a side-view video.")
    if visitor() is None:
        return
    settings = sidebar()
    tab_upload, tab_live, tab_history = st.tabs(["Upload review", "Live treadmill check", "History"])
    with tab_upload:
        try:
            upload_tab(settings, default_samples)
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
