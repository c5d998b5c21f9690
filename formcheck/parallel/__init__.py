"""Pose and the annotated video on every core (see each module for how).

* ``processes``: how many workers, how they start, how the caller hears from them
* ``board``: the shared-memory board the participants claim and steal frames on
* ``seeks``: what starting a range costs (key frames)
* ``pose_ranges``: pose over frame ranges, stitched at agreed seams into one series
* ``render``: the annotated video encoded in parts and joined without re-encoding
"""

from formcheck.parallel.pose_ranges import People, estimate_clip, find_people
from formcheck.parallel.processes import available_cpus, stop_helper_processes, worker_count
from formcheck.parallel.render import render_video

__all__ = ["People", "available_cpus", "estimate_clip", "find_people", "render_video", "stop_helper_processes",
           "worker_count"]
