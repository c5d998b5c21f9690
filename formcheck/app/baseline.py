"""The forward-running baseline: offer a forward session as it, check a backward session against it."""

from __future__ import annotations

import streamlit as st

from formcheck.app.login import visitor_history
from formcheck.app.state import app_state
from formcheck.app.text import plain
from formcheck.errors import FormcheckError


def _set_baseline(session_id: int | None) -> None:
    """Button callback: mark (or, with None, clear) the forward-running baseline."""
    try:
        store = visitor_history()
        store.set_baseline(session_id) if session_id is not None else store.clear_baseline()
    except FormcheckError as exc:
        app_state.baseline_error = str(exc)


def show_baseline(report: dict, history_id: int | None, key_prefix: str = "res") -> None:
    """A forward session: offer it as the baseline. A backward one: compare it with the baseline
    (backward cadence at least the forward cadence, backward steps shorter)."""
    from formcheck.coaching.progress import baseline_checks

    error = app_state.take_baseline_error()
    if error:
        st.error(plain(error))
    try:
        base = visitor_history().baseline()
    except FormcheckError:
        return
    if report.get("direction") != "backward":
        if history_id is None:
            return
        if base is not None and base["id"] == history_id:
            st.caption("This is your forward-running baseline: backward sessions are compared with it.")
            st.button("Clear the baseline", key=f"{key_prefix}_clear_baseline_{history_id}", on_click=_set_baseline,
                      args=(None,))
        elif report.get("direction") == "forward":
            st.button("Use this as my forward-running baseline", key=f"{key_prefix}_baseline_{history_id}",
                      on_click=_set_baseline, args=(history_id,),
                      help="Backward sessions are then compared with it: backward cadence should be at least "
                           "your forward cadence, and backward steps shorter.")
        return
    if base is None:
        st.caption("Compare with your own running: analyse a clip of your normal forward running and mark it "
                   "as your baseline (here or in the History tab).")
        return
    checks = baseline_checks(report, base["report"])
    st.markdown("##### Against your forward running")
    for c in checks:
        show = st.success if c.ok else st.warning if c.ok is False else st.info
        show(f"**{c.title}**: {c.message}")
    st.caption(f"Baseline: session #{base['id']}, {plain(base['source'])}.")
