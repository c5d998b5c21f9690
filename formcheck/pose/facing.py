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

LOOK_EVERY_S = 0.25  # one look per quarter second
LOOKS = 5  # looks that find someone; the facing is a vote over them
GIVE_UP_S = 20.0  # a runner who crosses the frame may enter late; nobody by then: no mirroring


def faces_right(video: VideoFile, model=None) -> bool:
    """True if the runner, in the first looks that find them, mostly faces image-right.

    Reads the start of ``video``; iterating it again afterwards starts from its first frame.
    """
    candidates, t_ms, index = [], [], []
    info = video.info
    every = max(1, int(round(LOOK_EVERY_S * info.fps)))
    with PoseEstimator(model) as estimator:
        for frame in islice(video, int(GIVE_UP_S * info.fps)):
            if frame.index % every:
                continue
            candidates.append(estimator.detect(frame.bgr, frame.t_ms))
            t_ms.append(frame.t_ms)
            index.append(frame.index)
            if sum(len(p) > 0 for p in candidates) >= LOOKS:
                break
    runner = select_runner(candidates, np.asarray(t_ms), np.asarray(index), info.width, info.height)
    return bool(runner.detected.any()) and runner.facing_sign() > 0
