"""The beginner plan's interval timer on the live tab: switching it on and its lines on the page."""

from __future__ import annotations

import streamlit as st


def interval_timer_settings() -> int | None:
    """The optional interval timer: off, or the beginner plan with 4 or 5 rounds. Returns the rounds."""
    from formcheck.coaching.coach import BEGINNER_PLAN
    from formcheck.coaching.intervals import plan_phases

    cols = st.columns([2, 1])
    on = cols[0].toggle("Interval timer (beginner plan)", key="live_timer",
                        help="Shows the current interval, its time left and the next one in big letters on "
                             "the picture, and whether you are doing what the interval asks. It starts with "
                             "the next camera frame.")
    rounds = cols[1].radio("Rounds", [4, 5], horizontal=True, key="live_timer_rounds", disabled=not on)
    if not on:
        return None
    minutes = plan_phases(rounds=rounds)[-1].end_s / 60
    st.caption(f"{BEGINNER_PLAN['note']} With {rounds} rounds: about {minutes:.0f} minutes.")
    return int(rounds)


def timer_markdown(s) -> list[str]:
    """The interval timer's lines for the page (the picture shows the same in big letters)."""
    t = s.timer
    if t is None:
        return []
    if t.finished:
        return [f"**Intervals: plan done.** {t.detail()}", ""]
    lines = [f"**Interval: {t.phase.activity}, {t.clock()} left**", t.detail()]
    if s.plan_check:
        lines.append(f":{'green' if s.on_plan else 'orange'}[{s.plan_check}]")
    return lines + [""]
