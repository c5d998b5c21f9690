"""This browser session's state, typed: every page reads and writes it through ``app_state``.

Each entry keeps its own ``st.session_state`` key (the attribute's name), so Streamlit's
session-state view and the tests still see ``results`` and the rest by name.

Widgets keep their own ``key=`` entries, because Streamlit stores a widget's value under
its key: ``slowmo_factor`` (sidebar; a slow-motion clip's "Analyse again" button sets it
through ``use_slowmo``), ``thresholds_toml`` and ``th_<field>_<file tag>`` (sidebar; "Reset to defaults"
deletes the ``th_`` ones through ``reset_threshold_widgets``), ``clip_upload``,
``sample_<file>``, ``live_timer``, ``live_timer_rounds``, ``live_pose_every``,
``formcheck-live`` (the webrtc component), ``cmp_before``, ``cmp_after``, ``history_pick``,
and the buttons' and downloads' own keys. Pages read those widgets' return values, not
these keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Literal, NamedTuple, TypeVar

import streamlit as st

from formcheck.app.access import Visitor
from formcheck.app.clip_analysis import Result
from formcheck.app.session_files import SessionFiles
from formcheck.app.webrtc import LiveHolder
from formcheck.outputs.report import Report

T = TypeVar("T")
THRESHOLD_RESET_KEY = "th_reset"


def threshold_widget_key(name: str, tag: str) -> str:
    """A new key per loaded TOML file (``tag``), so its values replace the widgets' old ones."""
    return f"th_{name}_{tag}"


def reset_threshold_widgets() -> None:
    for key in [k for k in st.session_state if str(k).startswith("th_") and k != THRESHOLD_RESET_KEY]:
        del st.session_state[key]


@dataclass(frozen=True)
class ActiveClip:
    """The clip the upload tab shows: a sample (by path) or the current upload (by file id)."""

    kind: Literal["sample", "upload"]
    name: str
    path: str | None = None
    file_id: str | None = None


@dataclass(frozen=True)
class SavedUpload:
    """An upload written to a temp folder, with its SHA-256 (the analysis cache's key)."""

    path: str
    sha: str


class Jump(NamedTuple):
    """Where a verdict's button moved the video: whole seconds for the player, the exact frame as a still."""

    seconds: float
    frame: int


class LiveSummary(NamedTuple):
    report: Report | None  # None when the session was too short
    message: str | None


class _Entry(Generic[T]):
    """One typed ``st.session_state`` entry, named after its attribute; ``default()`` fills it on first read."""

    def __init__(self, default: Callable[[], T]) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, obj: object, owner: type | None = None) -> T:
        if self.key not in st.session_state:
            st.session_state[self.key] = self.default()
        return st.session_state[self.key]

    def __set__(self, obj: object, value: T) -> None:
        st.session_state[self.key] = value


def _none() -> None:
    return None


class AppState:
    results: _Entry[dict[str, Result]] = _Entry(dict)  # analysis key -> result, oldest first
    active: _Entry[ActiveClip | None] = _Entry(_none)
    upload_id: _Entry[str | None] = _Entry(_none)  # the uploader's file id last seen, to spot a new upload
    upload_files: _Entry[dict[str, SavedUpload]] = _Entry(dict)  # file id -> the one upload kept on disk
    jumps: _Entry[dict[str, Jump]] = _Entry(dict)  # clip (SHA prefix) -> where its video was jumped to
    live_holder: _Entry[LiveHolder] = _Entry(LiveHolder)
    live_summary: _Entry[LiveSummary | None] = _Entry(_none)
    baseline_error: _Entry[str | None] = _Entry(_none)  # from a button callback, shown once on the next run
    visitor: _Entry[Visitor | None] = _Entry(_none)  # who was let in (formcheck.app.login)
    files: _Entry[SessionFiles] = _Entry(SessionFiles)  # this session's temporary folder, gone with it
    # a flagged slow-motion analysis whose history session "Analyse again" replaces once the new one
    # is saved: one clip, one session in the history
    superseded: _Entry[Result | None] = _Entry(_none)

    def take_baseline_error(self) -> str | None:
        error, self.baseline_error = self.baseline_error, None
        return error


app_state = AppState()
