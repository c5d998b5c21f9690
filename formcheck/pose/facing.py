"""Which way the runner faces, from a few looks at the clip, before the full pose pass.

MediaPipe's pose model is not mirror-symmetric: on the same runner filmed from the other
side (the mirrored picture) it placed the near elbow about 10 px differently, moving the
elbow angle by 10 degrees. The full pass therefore shows the model every runner facing
image-left (see ``PoseEstimator(mirror=...)``), so both filming sides give the same numbers.
"""

from __future__ import annotations

from itertools import islice

import numpy as np

from formcheck.io.video import VideoFile
from formcheck.pose import PoseEstimator, select_runner
from formcheck.pose.series import LEFT_SHOULDER, RIGHT_SHOULDER, torso_length

LOOK_EVERY_S = 0.25  # one look per quarter second
LOOKS = 5  # looks that find someone side-on; the facing is a vote over them
GIVE_UP_S = 20.0  # a runner who crosses the frame may enter late; nobody by then: no mirroring


def faces_right(video: VideoFile, model=None) -> bool:
    """True if the runner, in the first looks that find them, mostly faces image-right.

    Reads the start of ``video``; iterating it again afterwards starts from its first frame.
    """
    everyone, side_on, t_ms, index = [], [], [], []
    info = video.info
    every = max(1, int(round(LOOK_EVERY_S * info.fps)))
    with PoseEstimator(model) as estimator:
        for frame in islice(video, int(GIVE_UP_S * info.fps)):
            if frame.index % every:
                continue
            people = estimator.detect(frame.bgr, frame.t_ms)
            everyone.append(people)
            side_on.append(people[[_seen_side_on(person) for person in people]])
            t_ms.append(frame.t_ms)
            index.append(frame.index)
            if sum(len(p) > 0 for p in side_on) >= LOOKS:
                break
    # the runner is filmed from the side; someone facing the camera (a coach, a bystander in view
    # before the runner comes in) has no facing to go by
    candidates = side_on if any(len(p) for p in side_on) else everyone
    runner = select_runner(candidates, np.asarray(t_ms), np.asarray(index), info.width, info.height)
    return bool(runner.detected.any()) and runner.facing_sign() > 0


SIDE_ON_SHOULDERS = 0.5  # shoulder width across the image, in torso lengths: about 0.8 facing the camera


def _seen_side_on(person: np.ndarray) -> bool:
    """Whether a (33, 3) detection shows the person from the side: the shoulders one behind the other."""
    return bool(abs(person[LEFT_SHOULDER, 0] - person[RIGHT_SHOULDER, 0]) < SIDE_ON_SHOULDERS * torso_length(person))
