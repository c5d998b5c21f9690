"""The sidebar: runner height, belt speed, slow motion, the longest clip, history and threshold overrides."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from formcheck.app.state import THRESHOLD_RESET_KEY, reset_threshold_widgets, threshold_widget_key
from formcheck.app.text import plain
from formcheck.config import Thresholds, load_thresholds
from formcheck.cues import editable_thresholds
from formcheck.errors import ConfigError

DEFAULT_MAX_DURATION_S = 180
SLOWMO_KEY = "slowmo_factor"
SLOWMO_RANGE = (0.05, 16.0)


@dataclass
class Settings:
    height_m: float | None = None
    belt_kmh: float | None = None
    slowmo: float = 1.0
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    thresholds: Thresholds = field(default_factory=Thresholds)
    save_history: bool = True

    def analysis_key(self) -> str:
        """What changes the analysis (not the display units)."""
        return json.dumps([self.slowmo, [getattr(self.thresholds, f) for f in self.thresholds.__dataclass_fields__]])


def sidebar() -> Settings:
    sb = st.sidebar
    sb.header("Settings")
    s = Settings()
    sb.caption("Optional, to show metres and km/h as well as leg lengths.")
    height = sb.number_input("Runner height (m)", min_value=0.0, max_value=2.5, value=0.0, step=0.01,
                             format="%.2f", help="0 = unknown. Leg length is taken as 0.53 × height "
                             "(an anthropometric approximation).")
    belt = sb.number_input("Treadmill belt speed (km/h)", min_value=0.0, max_value=30.0, value=0.0, step=0.1,
                           format="%.1f", help="0 = unknown or overground.")
    s.height_m = height or None
    s.belt_kmh = belt or None
    st.session_state.setdefault(SLOWMO_KEY, 1.0)
    s.slowmo = sb.number_input("Slow-motion factor", min_value=SLOWMO_RANGE[0], max_value=SLOWMO_RANGE[1], step=0.5,
                               key=SLOWMO_KEY, help="Capture fps ÷ playback fps. A 120 fps slow-motion clip played "
                                                    "at 30 fps is 4. Leave at 1 for normal clips.")
    s.max_duration_s = sb.number_input("Longest clip to analyse (s)", min_value=5, max_value=1800,
                                       value=DEFAULT_MAX_DURATION_S, step=15,
                                       help="Longer clips are refused; trim them to the part you want checked.")
    s.save_history = sb.checkbox("Save results to history", value=True)
    with sb.expander("Thresholds"):
        s.thresholds = _threshold_settings()
    return s


def use_slowmo(factor: float) -> None:
    """Set the sidebar's slow-motion factor: a button's callback, so it runs before the sidebar is drawn again."""
    st.session_state[SLOWMO_KEY] = min(max(float(factor), SLOWMO_RANGE[0]), SLOWMO_RANGE[1])


def _threshold_settings() -> Thresholds:
    """The thresholds the sidebar sets; a bad TOML shows its error there and leaves the defaults."""
    toml = st.file_uploader("Load a thresholds TOML", type=["toml"], key="thresholds_toml",
                            help="A [thresholds] table with any of the fields in formcheck/config.py.")
    base, error, tag = Thresholds(), None, "default"
    if toml is not None:
        data = toml.getvalue()
        tag = hashlib.sha1(data).hexdigest()[:8]
        try:
            base = load_thresholds_bytes(data, toml.name)
        except ConfigError as exc:
            error = str(exc)
            st.error(plain(error))
    overrides = {}
    for editable in editable_thresholds():
        name, label, lo, hi = editable.name, editable.label, editable.low, editable.high
        default = getattr(base, name)
        key = threshold_widget_key(name, tag)
        if isinstance(default, tuple):
            value = st.slider(label, min_value=lo, max_value=hi, value=(float(default[0]), float(default[1])),
                              step=0.5, key=key)
        else:
            value = st.number_input(label, min_value=lo, max_value=hi, value=float(default), key=key,
                                    step=0.01 if hi <= 2 else 1.0)
        if value != default:
            overrides[name] = value
    if st.button("Reset to defaults", key=THRESHOLD_RESET_KEY):
        reset_threshold_widgets()
        st.rerun()
    try:
        return (load_thresholds_bytes(toml.getvalue(), toml.name, **overrides) if toml is not None and not error
                else load_thresholds(None, **overrides))
    except ConfigError as exc:
        st.error(plain(exc))
        return base


def load_thresholds_bytes(data: bytes, name: str, **overrides) -> Thresholds:
    with tempfile.TemporaryDirectory(prefix="formcheck-config-") as tmp:
        path = Path(tmp) / (Path(name).name or "thresholds.toml")
        path.write_bytes(data)
        try:
            return load_thresholds(path, **overrides)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(path), Path(name).name)) from exc
