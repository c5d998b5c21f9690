"""The history tab: every saved session, trends per cue, two sessions before and after, one session."""

from __future__ import annotations

import json

import streamlit as st

from formcheck.app.baseline import show_baseline
from formcheck.app.errors import show_unexpected
from formcheck.app.login import visitor_history
from formcheck.app.state import app_state
from formcheck.app.text import plain
from formcheck.app.verdicts import format_value, render_verdict
from formcheck.errors import FormcheckError
from formcheck.outputs import figures
from formcheck.outputs.report import score_text


def history_tab() -> None:
    try:
        store = _chosen_history()
        sessions = store.list_sessions()
        baseline_id = store.baseline_id()
    except FormcheckError as exc:
        st.error(plain(exc))
        return
    who = app_state.visitor
    st.caption(f"History of {plain(who.athlete)}." if who and who.athlete else f"History file: {plain(store.path)}")
    if not sessions:
        st.info("No sessions yet. Analyse a clip or run a live check; results are saved here.")
        return
    st.dataframe(session_rows(sessions, baseline_id), hide_index=True, width="stretch")
    _trends(store, len(sessions))
    labels = session_labels(sessions)
    _before_and_after(store, labels)
    _one_session(store, labels)


OWN_SESSIONS = "This computer's own sessions"


def _chosen_history():
    """The visitor's history; on this computer, also any athlete's (``formcheck batch --history``)."""
    from formcheck.outputs.history import History, athlete_histories

    store = visitor_history()
    who = app_state.visitor
    if who is not None and who.athlete is not None:
        return store  # a team server: each athlete sees their own only
    athletes = list(athlete_histories())
    if not athletes:
        return store
    choice = st.selectbox("Athlete", [OWN_SESSIONS, *athletes], key="history_athlete",
                          help="Clips analysed with `formcheck batch --history` are kept per athlete.")
    return store if choice == OWN_SESSIONS else History.of_athlete(choice)


def session_rows(sessions: list[dict], baseline_id: int | None) -> list[dict]:
    return [{"id": s["id"], "date": s["created_at"].replace("T", " ")[:16], "source": s["source"],
             "kind": s["kind"], "direction": s["direction"],
             "cadence": None if s["cadence_spm"] is None else round(s["cadence_spm"]),
             "score": s["score"], "baseline": "forward baseline" if s["id"] == baseline_id else ""}
            for s in sessions]


def session_labels(sessions: list[dict]) -> dict[int, str]:
    """session id -> its label in the pickers, newest first (the order the history lists them)."""
    return {s["id"]: f"#{s['id']} {s['created_at'][:16].replace('T', ' ')} {s['source']} ({s['kind']})"
            for s in sessions}


def _trends(store, n_sessions: int) -> None:
    st.markdown("#### Trends")
    if n_sessions < 2:
        st.caption("Trends need two or more sessions; here is the first one.")
    try:
        fig = trend_figure(store)
        if fig is not None:
            st.image(figures.png(fig, dpi=100), width="stretch")
    except Exception as exc:  # noqa: BLE001
        show_unexpected(exc, "drawing the trends")


def _before_and_after(store, labels: dict[int, str]) -> None:
    st.markdown("#### Before and after")
    if len(labels) < 2:
        st.caption("Two sessions are compared side by side here once you have two.")
        return
    ids = list(labels)  # newest first: by default the latest session against the one before it
    c1, c2 = st.columns(2)
    before = c1.selectbox("Before", ids, index=1, format_func=labels.get, key="cmp_before")
    after = c2.selectbox("After", ids, index=0, format_func=labels.get, key="cmp_after")
    try:
        show_comparison(store, before, after)
    except Exception as exc:  # noqa: BLE001
        show_unexpected(exc, "comparing the sessions")


def _one_session(store, labels: dict[int, str]) -> None:
    st.markdown("#### One session")
    chosen = st.selectbox("Session", list(labels), format_func=labels.get, key="history_pick")
    entry = store.get(chosen) if chosen is not None else None
    if not entry:
        return
    rep = entry["report"]
    st.markdown(f"**{plain(entry['source'])}**: {rep.get('direction')} {rep.get('gait_type')}, "
                f"score {score_text(rep.get('score'))}")
    show_baseline(rep, chosen, key_prefix="hist")
    for rule in rep.get("rules", []):
        render_verdict(rule)
    show_key_frames(store.key_frames(chosen))
    st.download_button("Report (JSON)", data=json.dumps(rep, indent=2),
                       file_name=f"formcheck-session-{chosen}.json", mime="application/json",
                       key=f"hist_dl_{chosen}")
    if st.button("Delete this session", key=f"hist_del_{chosen}"):
        store.delete(chosen)
        st.rerun()


VERDICT_MARK = {"better": "✅ better", "worse": "⚠️ worse", "about the same": "= about the same",
                "not comparable": "– not comparable"}


def comparison_rows(changes) -> list[dict]:
    """The before/after table: one row per cue, values in the cue's own units."""
    rows = []
    for c in changes:
        change = "–" if c.change is None else format_value(c.change, c.unit).replace("not measured", "–")
        if c.change is not None and c.change > 0:
            change = "+" + change
        rows.append({"cue": c.title, "before": format_value(c.before, c.unit),
                     "after": format_value(c.after, c.unit), "change": change,
                     "verdict": VERDICT_MARK.get(c.verdict, c.verdict),
                     "status": f"{c.before_status} → {c.after_status}"})
    return rows


def show_comparison(store, before_id: int, after_id: int) -> None:
    """Two sessions side by side: each cue's value in both, the change and whether it improved,
    then their key frames."""
    from formcheck.coaching.progress import compare_sessions, improvement_summary

    if before_id == after_id:
        st.info("Pick two different sessions to compare.")
        return
    before, after = store.get(before_id), store.get(after_id)
    if before is None or after is None:
        st.warning("One of these sessions is no longer in the history.")
        return
    changes = compare_sessions(before["report"], after["report"])
    st.markdown(f"**#{before_id} → #{after_id}: {improvement_summary(changes)}** "
                f"(score {score_text(before['report'].get('score'))} → {score_text(after['report'].get('score'))})")
    st.dataframe(comparison_rows(changes), hide_index=True, width="stretch")
    cols = st.columns(2)
    for col, entry, label in ((cols[0], before, "Before"), (cols[1], after, "After")):
        with col:
            st.markdown(f"**{label}: #{entry['id']} {plain(entry['source'])}** ({entry['created_at'][:10]})")
            show_key_frames(store.key_frames(entry["id"]))


def show_key_frames(frames: list[tuple[str, bytes]]) -> None:
    if not frames:
        st.caption("No key frames were stored with this session.")
    for caption, jpeg in frames:
        st.image(jpeg, caption=caption, width="stretch")


def trend_figure(store):
    """The score and every measured cue over the sessions, oldest first; None with no sessions."""
    sessions = store.list_sessions()[::-1]
    order = {s["id"]: i + 1 for i, s in enumerate(sessions)}
    cues = []
    for rid, title in store.rule_ids():
        measured = [p for p in store.trend(rid) if p["value"] is not None]
        if measured:
            cues.append((f"{title} ({measured[0]['unit']})",
                         [figures.TrendPoint(order.get(p["session_id"], 0), p["value"], p["status"]) for p in measured]))
    if not cues and not sessions:
        return None
    return figures.trends([s["score"] for s in sessions], cues)
