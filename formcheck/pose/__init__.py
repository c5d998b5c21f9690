"""Pose: the one pose series type and its geometry, the MediaPipe estimator, runner tracking,
facing, the model file. The names below are the layer's public surface."""

from formcheck.pose import series
from formcheck.pose.estimator import PoseEstimator
from formcheck.pose.series import *  # noqa: F401,F403  (landmark indices, geometry, PoseSeries)
from formcheck.pose.tracking import link_tracks, select_runner

__all__ = ["PoseEstimator", "link_tracks", "select_runner", *series.__all__]
