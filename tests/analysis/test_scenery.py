"""A camera panning with an overground runner is not a treadmill: the scenery gives it away."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from support.synthetic import GaitParams, render_clip

import formcheck
from formcheck.analysis.scenery import _motion, background_mask, pair_shift_px
from formcheck.pose import LEFT_HIP, RIGHT_HIP


def _texture(h=270, w=480, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h // 6, w // 6)).astype(np.float32)
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("shift", [-9.0, -2.5, 0.0, 4.0])
def test_background_shift_is_recovered_to_a_fraction_of_a_pixel(shift):
    a = _texture()
    b = cv2.warpAffine(a, np.float32([[1, 0, shift], [0, 1, 0]]), (a.shape[1], a.shape[0]),
                       borderMode=cv2.BORDER_REFLECT)
    mask = np.full(a.shape, 255, np.uint8)
    mask[:, :20] = mask[:, -20:] = 0  # the reflected border is not scenery
    assert pair_shift_px(a, b, mask) == pytest.approx(shift, abs=0.3)


def test_featureless_background_gives_no_answer_rather_than_zero():
    flat = np.full((270, 480), 128, np.uint8)
    assert pair_shift_px(flat, flat, np.full(flat.shape, 255, np.uint8)) is None


def test_mask_hides_the_runner_and_a_belt_beside_the_feet():
    people = np.full((2, 33, 2), np.nan)
    people[:, :, 0], people[:, :, 1] = 240.0, np.linspace(40, 200, 33)  # soles at y = 200
    people[:, [LEFT_HIP, RIGHT_HIP], 1] = 150.0
    mask = background_mask((300, 480), people, leg_px=100.0)
    assert mask[100, 240] == 0  # the runner
    assert mask[200, 240 + 50] == 0 and mask[195, 240 - 50] == 0  # the belt, ahead of and behind the feet
    # the wall above, the treadmill's deck and the floor below the belt, and scenery well beyond it:
    # what moves past a camera that follows an overground runner
    assert mask[50, 40] == 255 and mask[260, 240 + 50] == 255 and mask[200, 10] == 255


@pytest.mark.slow
@pytest.mark.parametrize("setting, camera", [("overground", "panning"), ("treadmill", "static")])
def test_panning_overground_and_treadmill_are_told_apart(tmp_path, setting, camera):
    # A coach tracking a client along a track with a phone keeps the runner centred,
    # just as a treadmill does; only the scenery moves.
    params = dataclasses.replace(GaitParams(), setting=setting, camera=camera, width=640, height=360,
                                 duration_s=4.0)
    truth = render_clip(params, tmp_path / "clip.mp4")
    report = formcheck.analyze(tmp_path / "clip.mp4")
    assert report.setting == truth["setting"]
    assert report.direction == "backward"
    assert report.cadence_spm == pytest.approx(truth["cadence_spm"], rel=0.02)


def test_a_few_pairs_that_happen_to_agree_are_not_beyond_chance():
    # A low-texture wall beside a treadmill gives a handful of pairs, each shifted past the hips
    # by pose jitter and the phone's shake; all five leaning one way happens 1 time in 16.
    few = _motion([-45.0, -27.0, -52.0, -38.0, -13.0])
    assert few.one_way and not few.beyond_chance
    # A beach filmed from alongside: waves and a featureless wet sand, most pairs one way.
    beach = _motion([-1.0] * 19 + [1.0] * 6)
    assert beach.speed_px_s == -1.0 and beach.beyond_chance
    assert not _motion([-1.0] * 14 + [1.0] * 11).one_way  # a still scene's even split
    assert _motion([-1.0] * 3) is None, "too few pairs to tell"
