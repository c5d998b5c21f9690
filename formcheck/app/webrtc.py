"""The live check's plumbing: the bridge between streamlit-webrtc's frame thread and the page, and
the test-only loopback ICE patch. No page drawing here."""

from __future__ import annotations

import os

from formcheck.config import Thresholds
from formcheck.errors import FormcheckError


def patch_ice_for_tests() -> None:
    """TEST-ONLY (FORMCHECK_ICE_LOOPBACK=1): offer 127.0.0.1 as the ICE host candidate.

    aioice leaves loopback out of its host candidates, so in a network namespace that
    has only loopback (the browser tests) the server would offer none and ICE fails.
    """
    if os.environ.get("FORMCHECK_ICE_LOOPBACK") != "1":
        return
    import aioice.ice

    if getattr(aioice.ice.get_host_addresses, "_formcheck_loopback", False):
        return

    def loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    loopback_only._formcheck_loopback = True
    aioice.ice.get_host_addresses = loopback_only


def has_server_runtime() -> bool:
    """False under streamlit.testing's AppTest (a mocked runtime, where webrtc cannot work)."""
    try:
        from streamlit.runtime.runtime import Runtime

        return Runtime.exists() and hasattr(Runtime.instance(), "_session_mgr") and \
            type(Runtime.instance()).__name__ == "Runtime"
    except Exception:  # noqa: BLE001
        return False


class LiveHolder:
    """Bridges the webrtc worker thread (frames) and the script thread (page, summary).

    Kept in the session state (``app_state.live_holder``); the frame callback creates the
    LiveSession lazily on the first frame so the pose model is only loaded when someone
    starts the camera.
    """

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self._finishing = threading.Lock()  # STOP ends the track too: the page waits for that finish
        self.session = None
        self.thresholds = Thresholds()
        self.was_playing = False
        self.error: str | None = None
        self.clock = None
        self.dropped = 0
        self.accepting = True  # False from STOP until the page sees the next start
        self.timer_rounds: int | None = None  # the interval timer's rounds; None = no timer
        self.pose_every = 1  # pose on every Nth frame (from the next START)
        self.key_frames: list = []  # the last finished session's stills
        self.slots = None  # the server's live-check Slots (the page sets them); None: unbounded
        self._holds_slot = False
        self.history = None  # where a finished session is saved (the page sets it); None: not saved
        self.last: tuple = (None, None)  # the last finished session: (report or None, message or None)

    def new_timer(self):
        from formcheck.coaching.intervals import IntervalTimer

        return IntervalTimer(self.timer_rounds) if self.timer_rounds else None

    def apply_timer(self, rounds: int | None) -> None:
        """Switch the timer on (from the next frame), off, or to another number of rounds."""
        with self.lock:
            changed = rounds != self.timer_rounds
            self.timer_rounds = rounds
            if changed and self.session is not None:
                self.session.set_interval_timer(self.new_timer())

    def ensure(self):
        from formcheck.live.session import LiveSession
        from formcheck.live.stream import StreamClock

        with self.lock:
            if self.session is None:
                if not self.accepting:
                    return None  # a last frame after STOP: do not start a new session for it
                if self.slots is not None and not self.slots.take():
                    self.error = (f"This server is already running {self.slots.limit} live check(s), as many as "
                                  "its processor can follow. Press STOP and try again when one has finished.")
                    self.accepting = False
                    return None
                self._holds_slot = self.slots is not None
                self.error = None
                self.last = (None, None)
                self.session = LiveSession(thresholds=self.thresholds, background=True, source="browser camera",
                                           interval_timer=self.new_timer(), pose_every=self.pose_every)
                self.clock = StreamClock()
                self.dropped = 0
            return self.session

    async def on_frames(self, frames):
        """streamlit-webrtc queued-frames callback: process only the newest frame, drop the rest."""
        import av

        frame = frames[-1]
        try:
            session = self.ensure()
            if session is None:
                return [frame]
            self.dropped += len(frames) - 1
            bgr = frame.to_ndarray(format="bgr24")
            t_ms, lag_ms = self.clock.stamp(frame.time)
            annotated = session.process(bgr, t_ms, lag_ms=lag_ms, dropped=self.dropped)
            out = av.VideoFrame.from_ndarray(annotated, format="bgr24")
        except FormcheckError as exc:  # e.g. the pose model is missing: its message is for the user
            self.error = str(exc)
            self.accepting = False  # do not retry on every frame; START again retries
            return [frame]
        except Exception as exc:  # noqa: BLE001 - keep the stream alive; show the problem on the page
            self.error = f"{type(exc).__name__}: {exc}"
            out = frame
            return [out]
        out.pts, out.time_base = frame.pts, frame.time_base
        return [out]

    def finish(self) -> tuple | None:
        """Summarise, save and close the current session; its (report or None, message or None),
        also kept as ``last``. None if no session was running (it was finished already)."""
        with self._finishing:
            return self._finish()

    def _finish(self) -> tuple | None:
        with self.lock:
            session, self.session = self.session, None
            self.accepting = False
            holds_slot, self._holds_slot = self._holds_slot, False
        if session is None:
            return None
        try:
            report, message = session.summary(), None
        except FormcheckError as exc:
            report, message = None, str(exc)
        finally:
            self.key_frames = session.key_frames()  # stills for the history, with the summary
            session.close()  # the landmarker goes now, not when the session state is dropped
            if holds_slot:
                self.slots.give_back()
        if report is not None and self.history is not None:
            message = self._save(report)
        self.last = (report, message)
        return self.last

    def _save(self, report) -> str:
        try:
            sid = self.history.save(report, "live camera", kind="live", key_frames=self.key_frames)
        except (FormcheckError, OSError) as exc:
            return f"Not saved to history: {exc}"
        return f"Saved to history as session {sid}."

    def on_ended(self) -> None:
        """streamlit-webrtc: the camera track ended (STOP, or the tab was closed): finish the session
        here, since a closed tab never runs the page again to do it."""
        self.finish()
