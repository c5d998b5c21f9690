"""One card per coaching cue: status badge, value, target and advice, with buttons that jump the video."""

from __future__ import annotations

import streamlit as st

from formcheck.app.state import Jump, app_state

STATUS_STYLE = {  # status -> (label, streamlit colour)
    "pass": ("PASS", "green"),
    "caution": ("CAUTION", "orange"),
    "fail": ("FAIL", "red"),
    "unknown": ("UNKNOWN", "gray"),
}


def status_badge(status: str) -> str:
    label, colour = STATUS_STYLE.get(status, STATUS_STYLE["unknown"])
    return f":{colour}-background[**{label}**]"


def format_value(value, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit in ("steps/min",):
        return f"{value:.0f} {unit}"
    if unit in ("deg", "deg range"):
        return f"{value:.0f}° {'range' if unit == 'deg range' else ''}".strip()
    return f"{value:.2f} {unit}".strip()


def _jump(jump_key: str, seconds: float, frame: int) -> None:
    app_state.jumps[jump_key] = Jump(seconds, frame)


def render_verdict(rule: dict, jump_key: str | None = None, frame_to_s: dict | None = None,
                   prefix: str = "") -> None:
    with st.container(border=True):
        value = format_value(rule.get("value"), rule.get("unit", ""))
        st.markdown(f"{status_badge(rule['status'])} **{rule['title']}**: {value}  \n"
                    f"Target: {rule['target']}  \n{rule['cue']}")
        frames = {}  # label -> frame: frames a few ms apart get one button
        for f in rule.get("frames") or []:
            t = (frame_to_s or {}).get(int(f))
            if t is not None:
                frames.setdefault(f"{t:.1f} s", (int(f), t))
        if jump_key and frames:
            row = st.container(horizontal=True, vertical_alignment="center", gap="small")
            row.markdown(":gray[See it at:]", width="content")
            for label, (f, t) in list(frames.items())[:4]:
                row.button(label, key=f"jump_{prefix}_{rule['id']}_{f}", on_click=_jump, args=(jump_key, t, f),
                           help=f"Jump the video to frame {f}")
