"""The error panel: an unexpected exception becomes a message and its traceback, and the app keeps serving."""

from __future__ import annotations

import traceback

import streamlit as st


def show_unexpected(exc: BaseException, doing: str) -> None:
    st.error(f"Something went wrong while {doing} ({type(exc).__name__}). The app is still running: "
             "try again or with another clip, and report the problem if it persists.")
    with st.expander("Technical details"):
        st.code("".join(traceback.format_exception(exc))[-4000:])
