"""Reviewing one clip: analyse it in its turn (or take it from this session's cache), save it, show it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from formcheck.app.clip_analysis import Result, analyse_clip
from formcheck.app.errors import show_unexpected
from formcheck.app.login import visitor_history
from formcheck.app.progress import ProgressDisplay
from formcheck.app.results import show_results
from formcheck.app.session_files import discard
from formcheck.app.settings import Settings
from formcheck.app.state import app_state
from formcheck.app.text import plain
from formcheck.app.turns import Turns
from formcheck.errors import FormcheckError
from formcheck.io.files import content_sha256

RESULTS_KEPT = 4  # analysed clips kept in memory/temp per browser session
ANALYSES_AT_ONCE = 1  # one analysis already keeps every core busy: more at once only slows them all


def _remember(result: Result) -> None:
    results = app_state.results
    results[result.key] = result
    while len(results) > RESULTS_KEPT:  # forget the oldest, and its files
        old = results.pop(next(iter(results)))
        if old.key != result.key:
            discard(old.workdir)


@st.cache_resource
def analysis_turns() -> Turns:
    """One queue for the whole server: cached resources are shared by every browser session."""
    return Turns(ANALYSES_AT_ONCE)


def review_clip(path: Path, source: str, settings: Settings, sha: str | None = None) -> Result | None:
    """Analyse (or fetch from the session cache) and show one clip. Every error becomes an
    error panel; the app keeps serving."""
    try:
        path = Path(path)
        key = f"{sha or content_sha256(path)}:{settings.analysis_key()}"
        result = app_state.results.get(key)
        if result is None:
            with st.status(f"Analysing {source}…", expanded=True) as status:
                progress = ProgressDisplay()
                try:
                    # every update says expanded=True: one without it clears `expanded`, which collapses the
                    # status (and, arriving in the same render as its creation, keeps it shut from the start)
                    with analysis_turns().turn(lambda waited: status.update(
                            label=f"Waiting for another analysis on this server to finish ({waited:.0f} s)…",
                            expanded=True)):
                        status.update(label=f"Analysing {source}…", expanded=True)
                        result = analyse_clip(path, settings, progress=progress, source=source,
                                              workdir=app_state.files.new_folder("result-"))
                except BaseException:
                    status.update(label=f"Could not analyse {source}", state="error", expanded=False)
                    raise
                progress.done()
                status.update(label=f"Analysed {source} in {result.elapsed_s:.0f} s", state="complete",
                              expanded=False)
            result.key = key
            if settings.save_history:
                _save_history(result)
            _remember(result)
        show_results(result, settings)
        return result
    except FormcheckError as exc:
        st.error(plain(exc))
    except Exception as exc:  # noqa: BLE001 - the app must keep serving
        show_unexpected(exc, f"analysing {source}")
    return None


def _save_history(result: Result) -> None:
    try:
        result.history_id = visitor_history().save(result.report, result.source, kind="clip",
                                                   key_frames=result.key_frames)
        _drop_superseded(result)
    except (FormcheckError, OSError) as exc:
        result.history_error = str(exc)


def _drop_superseded(saved: Result) -> None:
    """The flagged analysis this clip's "Analyse again as slow motion" replaced goes once the new one is saved."""
    flagged = app_state.superseded
    same_clip = flagged is not None and flagged.clip_sha == saved.clip_sha
    if same_clip and flagged.history_id is not None:
        visitor_history().delete(flagged.history_id)
        flagged.history_id = None  # its cached result no longer points at a deleted session
        app_state.superseded = None
