"""Which way the runner faces, from a first look at the clip, before the full pose pass.

MediaPipe's pose model is not mirror-symmetric: on the same runner filmed from the other
side (the mirrored picture) it placed the near elbow about 10 px differently, moving the
elbow angle by 10 degrees. The full pass therefore shows the model every runner facing
image-left (see ``PoseEstimator(mirror=...)``), so both filming sides give the same numbers.
"""

from __future__ import annotations

from itertools import islice

import numpy as np

from . import kinematics as K
from .pose import PoseEstimator, select_runner
from .video import VideoFile

LOOK_SECONDS = 2.0  # the runner is in view early in nearly every clip
LOOKS = 8  # frames the model looks at; the facing is a vote over them


def faces_right(path, model=None, slowmo: float = 1.0) -> bool:
    """True if the runner seen in the first seconds mostly faces image-right."""
    candidates, t_ms, index = [], [], []
    with VideoFile(path, slowmo=slowmo) as video:
        info = video.info
        span = max(1, min(info.frames, int(LOOK_SECONDS * info.fps)))
        every = max(1, span // LOOKS)
        with PoseEstimator(model) as estimator:
            for frame in islice(video, span):
                if frame.index % every == 0:
                    candidates.append(estimator.detect(frame.bgr, frame.t_ms))
                    t_ms.append(frame.t_ms)
                    index.append(frame.index)
    runner = select_runner(candidates, np.asarray(t_ms), np.asarray(index), info.width, info.height)
    return bool(runner.detected.any()) and K.facing_sign(runner) > 0
