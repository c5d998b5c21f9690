"""The error panel: an unexpected exception becomes a message with a short reference, and the app
keeps serving. The traceback goes to the server's log under that reference, never to the page:
a visitor needs to know what to do, not the server's code and paths."""

from __future__ import annotations

import logging
import secrets

import streamlit as st

log = logging.getLogger("formcheck.app")


def show_unexpected(exc: BaseException, doing: str) -> str:
    """Show the panel; returns the reference logged with the traceback."""
    reference = secrets.token_hex(4)
    log.error("error %s while %s", reference, doing, exc_info=exc)
    st.error(f"Something went wrong while {doing} ({type(exc).__name__}). The app is still running: "
             f"try again or with another clip, and if it persists report reference {reference} "
             "(the details are in the server's log).")
    return reference
