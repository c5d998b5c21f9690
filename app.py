"""formcheck in the browser: ``streamlit run app.py``.

Three tabs:

* **Upload review**: drop a side-view clip (or try a sample), watch the progress,
  then see the annotated video, a verdict per coaching cue (with buttons that jump
  the video to the frames that show it), plots, a per-step table and downloads.
* **Live treadmill check**: webcam through streamlit-webrtc; each newest frame gets
  the pose, skeleton and per-cue traffic lights from a rolling 10 s analysis
  (``formcheck.live.session.LiveSession``, the same analysis code as for clips).
* **History**: every analysed clip and live session (``formcheck.outputs.history``), with a
  trend per cue.

This file only starts the page (``formcheck.app.page``); each tab's code is in ``formcheck/app/``
(``upload``, ``results``, ``live``, ``history_page``, ...; session state in ``state``).
``formcheck app`` starts the same page on this computer only; ``formcheck app --lan`` for a team.

Environment variables:

* ``FORMCHECK_HISTORY``: history file (default ``~/.local/share/formcheck/history.sqlite``).
* ``FORMCHECK_SAMPLE_DIR``: folder of sample clips (default ``sample_videos/`` next to this file).
* ``FORMCHECK_ACCESS_KEYS``: a TOML file of athletes' access keys; set by ``formcheck app --lan``.
* ``FORMCHECK_ICE_LOOPBACK=1``: TEST-ONLY. Makes aiortc offer 127.0.0.1 as its ICE host
  candidate so a browser on the same machine can connect with loopback only (for the
  browser tests in a network namespace). Never set it for real use.
"""

from __future__ import annotations

from pathlib import Path

from formcheck.app.page import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent / "sample_videos")
