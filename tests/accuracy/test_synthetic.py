"""The synthetic runner's truth must be physically right: the pipeline is scored against it.

Fast (no MediaPipe): invariants of ``truth_for`` / ``joint_tracks``, one short render, and
short renders of every look (each really applied; the gait untouched). One slow test runs
the real pipeline on a hard look.
"""

from __future__ import annotations

import functools
import itertools
import json
import math

import cv2
import numpy as np
import pytest
from support import synthetic
from support.synthetic import LOOK_STYLES, LOOKS, GaitParams, joint_tracks, render_clip, render_frames, truth_for

SHORT = dict(duration_s=3.0)
OVERGROUND = [
    GaitParams(setting="overground", camera="static", **SHORT),
    GaitParams(setting="overground", camera="panning", facing="right", **SHORT),
    GaitParams(setting="overground", direction="forward", strike="heel", **SHORT),
]
VARIANTS = [
    GaitParams(**SHORT),
    GaitParams(facing="right", fps=60.0, **SHORT),
    GaitParams(step_length_leg=1.25, cadence_spm=150, strike="heel", **SHORT),
    GaitParams(heel_drag=True, strike="flat", seed=3, **SHORT),
    GaitParams(width=540, height=960, seed=5, **SHORT),
    *OVERGROUND,
]


def _ids(params):
    return f"{params.setting}-{params.camera}-{params.facing}-{params.direction}-{params.fps:g}"


def _world_x(tracks, name):
    return tracks[name][:, 0] + tracks["camera_x"]


def _height(tracks, name):
    return tracks["ground_y"] - tracks[name][:, 1]


def _leg_length(params):
    return truth_for(params)["leg_length_px"]


@pytest.mark.parametrize("p", VARIANTS, ids=_ids)
def test_contacts_alternate_with_the_step_period(p):
    truth = truth_for(p)
    contacts = truth["contacts"]
    feet = [c["foot"] for c in contacts]
    assert all(a != b for a, b in zip(feet, feet[1:])), feet
    expected = p.duration_s * p.cadence_spm / 60.0
    assert abs(len(contacts) - expected) <= 1
    spacing = np.diff([c["frame"] for c in contacts]) / p.fps
    assert np.all(np.abs(spacing - 60.0 / p.cadence_spm) <= 1.0 / p.fps + 1e-9)
    for c in contacts:
        assert c["time_s"] == pytest.approx(c["frame"] / p.fps)


@pytest.mark.parametrize("p", VARIANTS, ids=_ids)
def test_contact_time_matches_duty_factor(p):
    truth = truth_for(p)
    stride = 120.0 / p.cadence_spm
    for c in truth["contacts"]:
        offs = [o for o in truth["toe_offs"] if o["foot"] == c["foot"] and o["frame"] > c["frame"]]
        if offs:
            # contact = first frame on the ground, toe-off = last: both round inward
            on_frames = offs[0]["frame"] - c["frame"] + 1
            assert abs(on_frames / p.fps - p.duty_factor * stride) <= 1.0 / p.fps + 1e-9


@pytest.mark.parametrize("p", VARIANTS, ids=_ids)
def test_leg_segments_keep_their_length(p):
    tracks = joint_tracks(p)
    L = _leg_length(p)
    for side in ("left", "right"):
        thigh = np.linalg.norm(tracks[f"{side}_hip"] - tracks[f"{side}_knee"], axis=1)
        shank = np.linalg.norm(tracks[f"{side}_knee"] - tracks[f"{side}_ankle"], axis=1)
        assert np.ptp(thigh) < 1e-6 and np.ptp(shank) < 1e-6
        assert thigh[0] + shank[0] == pytest.approx(L, abs=1e-3)
        # knees bend toward the facing side: the knee lies ahead of the hip-ankle line
        f = 1 if p.facing == "right" else -1
        hip, knee, ankle = (tracks[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        u = (knee[:, 1] - hip[:, 1]) / (ankle[:, 1] - hip[:, 1])
        line_x = hip[:, 0] + u * (ankle[:, 0] - hip[:, 0])
        assert np.all(f * (knee[:, 0] - line_x) > 0)


def _stance_runs(on):
    edges = np.flatnonzero(np.diff(on.astype(int)))
    starts = [0] + list(edges + 1)
    for a, b in zip(starts, starts[1:] + [len(on)]):
        if on[a] and b - a >= 2:
            yield a, b


@pytest.mark.parametrize("p", OVERGROUND, ids=_ids)
def test_stance_foot_is_planted_overground(p):
    tracks = joint_tracks(p)
    for side in ("left", "right"):
        runs = list(_stance_runs(tracks[f"{side}_on_ground"]))
        assert runs
        for a, b in runs:
            for point in ("heel", "foot_index"):
                name = f"{side}_{point}"
                touching = np.abs(_height(tracks, name)[a:b]) < 1e-6
                x = _world_x(tracks, name)[a:b][touching]
                if x.size >= 2:
                    assert np.ptp(x) < 1e-6, (name, a, b)


def test_stance_foot_slides_with_the_belt_on_a_treadmill():
    p = GaitParams(**SHORT)  # facing left, backward: travel is +x, so the belt runs toward -x
    tracks = joint_tracks(p)
    truth = truth_for(p)
    hip_x = tracks["left_hip"][:, 0]
    assert np.ptp(hip_x) < 1e-6  # the pelvis holds its place on the belt
    for a, b in _stance_runs(tracks["left_on_ground"]):
        touching = np.abs(_height(tracks, "left_heel")[a:b]) < 1e-6
        x = tracks["left_heel"][a:b, 0][touching]
        if x.size >= 2:
            v = np.diff(x) * p.fps
            assert np.allclose(v, -truth["belt_speed_px_s"], rtol=1e-6)


def test_overground_contacts_are_one_step_length_apart():
    p = GaitParams(setting="overground", camera="panning", duration_s=4.0)
    tracks = joint_tracks(p)
    truth = truth_for(p)
    # the flat-foot heel position of each stance, in world coordinates
    spots = []
    for c in truth["contacts"]:
        name = f"{c['foot']}_heel"
        frames = np.arange(c["frame"], c["frame"] + 6)
        flat = frames[np.abs(_height(tracks, name)[frames]) < 1e-6]
        spots.append(_world_x(tracks, name)[flat[0]])
    steps = np.abs(np.diff(spots)) / truth["leg_length_px"]
    assert np.allclose(steps, p.step_length_leg, atol=1e-6)
    # and the pelvis moves against facing (backward) at speed = step length x step rate
    hip = _world_x(tracks, "left_hip")
    speed = np.diff(hip) * p.fps
    assert np.allclose(speed, +truth["speed_px_s"])  # facing left, moving backward: +x
    assert truth["speed_px_s"] == pytest.approx(
        p.step_length_leg * truth["leg_length_px"] * p.cadence_spm / 60.0, rel=1e-4)


@pytest.mark.parametrize("strike,sign", [("forefoot", 1), ("flat", 0), ("heel", -1)])
def test_foot_pitch_at_contact_follows_the_strike(strike, sign):
    truth = truth_for(GaitParams(strike=strike, **SHORT))
    pitches = np.array([c["foot_pitch_deg"] for c in truth["contacts"]])
    if sign == 0:
        assert np.allclose(pitches, 0.0, atol=1e-6)
    else:
        assert np.all(pitches * sign >= 5.0) and np.all(pitches * sign <= 20.0)
    assert all(c["strike"] == strike for c in truth["contacts"])


@pytest.mark.parametrize("facing", ["left", "right"])
def test_trunk_lean_elbow_and_near_side(facing):
    p = GaitParams(facing=facing, trunk_lean_deg=-5.0, elbow_angle_deg=160.0, **SHORT)
    tracks = joint_tracks(p)
    truth = truth_for(p)
    assert truth["near_foot"] == facing
    f = 1 if facing == "right" else -1
    v = tracks["left_shoulder"] - tracks["left_hip"]
    lean = np.degrees(np.arctan2(f * v[:, 0], -v[:, 1]))  # image y is down
    assert np.mean(lean) == pytest.approx(-5.0, abs=0.2)
    assert np.ptp(lean) <= 2.5  # a steady trunk
    for side in ("left", "right"):
        a = tracks[f"{side}_shoulder"] - tracks[f"{side}_elbow"]
        b = tracks[f"{side}_wrist"] - tracks[f"{side}_elbow"]
        cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert np.allclose(np.degrees(np.arccos(cos)), 160.0, atol=1e-6)
    # the nose points where the runner faces
    assert np.all(f * (tracks["nose"][:, 0] - tracks["head_center"][:, 0]) > 0)


@pytest.mark.parametrize("swing,sign", [("opposite", -1), ("same", 1)])
def test_arms_swing_against_or_with_the_same_side_leg(swing, sign):
    p = GaitParams(arm_swing=swing, **SHORT)
    tracks = joint_tracks(p)
    for side in ("left", "right"):
        arm = tracks[f"{side}_wrist"][:, 0] - tracks[f"{side}_shoulder"][:, 0]
        leg = tracks[f"{side}_ankle"][:, 0] - tracks[f"{side}_hip"][:, 0]
        assert sign * np.corrcoef(arm, leg)[0, 1] > 0.7


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_stance_foot_moves_against_travel_relative_to_the_pelvis(direction):
    p = GaitParams(direction=direction, facing="right", setting="overground", **SHORT)
    tracks = joint_tracks(p)
    f = 1
    d = f if direction == "forward" else -f
    rel = tracks["right_ankle"][:, 0] - tracks["right_hip"][:, 0]
    for a, b in _stance_runs(tracks["right_on_ground"]):
        assert np.sign(rel[b - 1] - rel[a]) == -d  # RULES convention 3


def test_pelvis_bounce_and_swing_clearance():
    for drag in (False, True):
        p = GaitParams(heel_drag=drag, **SHORT)
        tracks = joint_tracks(p)
        L = _leg_length(p)
        hip_y = _height(tracks, "left_hip")
        assert np.ptp(hip_y) / L == pytest.approx(p.bounce_leg, abs=0.005)
        for side in ("left", "right"):
            swing = ~tracks[f"{side}_on_ground"]
            low = np.minimum(_height(tracks, f"{side}_heel"), _height(tracks, f"{side}_foot_index"))
            assert np.all(low >= -1e-6)
            share_low = np.mean(low[swing] < 0.03 * L)
            assert (share_low > 0.95) if drag else (share_low < 0.3)


def test_truth_keys_and_json():
    truth = truth_for(GaitParams(**SHORT))
    for key in ("params", "fps", "frames", "width", "height", "facing", "direction", "setting",
                "cadence_spm", "step_length_leg", "trunk_lean_deg", "elbow_angle_deg",
                "arm_swing", "strike", "heel_drag", "leg_length_px", "near_foot", "contacts",
                "toe_offs", "duty_factor", "joints_px"):
        assert key in truth
    assert truth["frames"] == 90
    assert set(truth["contacts"][0]) == {"foot", "frame", "time_s", "strike", "foot_pitch_deg"}
    json.dumps(truth)  # plain JSON types only


@pytest.mark.parametrize("bad", [dict(facing="up"), dict(duty_factor=1.2), dict(width=961),
                                 dict(setting="treadmill", camera="panning"),
                                 dict(step_length_leg=3.0)])
def test_bad_parameters_raise(bad):
    with pytest.raises(ValueError):
        truth_for(GaitParams(**bad))


def test_rendered_clip_is_h264_with_truth_beside_it(tmp_path):
    av = pytest.importorskip("av")
    p = GaitParams(width=320, height=240, duration_s=1.0, fps=30.0, noise=4.0,
                   occlusion=(0.5, 0.7), seed=2)
    out = tmp_path / "clip.mp4"
    truth = render_clip(p, out)
    assert (tmp_path / "clip.truth.json").exists()
    on_disk = json.loads((tmp_path / "clip.truth.json").read_text())
    assert on_disk["contacts"] == truth["contacts"]
    assert on_disk["joints_px"] == "clip.joints.npz"
    joints = np.load(tmp_path / on_disk["joints_px"])
    assert joints["left_knee"].shape == (30, 2)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == truth["frames"] == 30
    assert frames[0].shape == (240, 320, 3)
    assert math.isclose(float(stream.average_rate), 30.0)
    # the runner is drawn: plenty of non-background detail around the pelvis
    x, y = joints["left_hip"][0].astype(int)
    assert frames[0][y - 10:y + 10, x - 10:x + 10].std() > 5


@pytest.mark.parametrize("duty,flight", [(0.38, True), (0.6, False)])
def test_running_has_flight_and_walking_double_support(duty, flight):
    p = GaitParams(duty_factor=duty, cadence_spm=180 if flight else 120, **SHORT)
    tracks = joint_tracks(p)
    airborne = ~tracks["left_on_ground"] & ~tracks["right_on_ground"]
    both_down = tracks["left_on_ground"] & tracks["right_on_ground"]
    assert airborne.any() == flight
    assert both_down.any() != flight


# --------------------------------------------------------------------------- looks

LOOK_CLIP = dict(width=320, height=240, duration_s=1.0, fps=30.0, seed=4)  # treadmill, facing left
# what a look must leave alone: everything the gait and the clip are, in the truth
GAIT_KEYS = ("contacts", "toe_offs", "frames", "fps", "facing", "direction", "setting", "camera",
             "cadence_spm", "step_length_leg", "strike", "heel_drag", "near_foot", "duty_factor",
             "contact_time_s", "leg_length_px", "ground_y_px", "occluded_frames")


@functools.lru_cache(maxsize=None)
def _look_frames(look: str, **kw) -> np.ndarray:
    return np.stack(list(render_frames(GaitParams(look=look, **{**LOOK_CLIP, **kw}))))


def _look_joints(look: str, **kw) -> dict[str, np.ndarray]:
    return joint_tracks(GaitParams(look=look, **{**LOOK_CLIP, **kw}))


def _gray(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(float)


def _box(tracks, names, i: int, pad: float) -> tuple[slice, slice]:
    """Rows and columns around the named joints in frame i, padded by ``pad`` px."""
    pts = np.array([tracks[n][i] for n in names])
    (x0, y0), (x1, y1) = pts.min(0) - pad, pts.max(0) + pad
    return slice(max(int(y0), 0), int(y1) + 1), slice(max(int(x0), 0), int(x1) + 1)


def _sharpness(gray: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_64F)).mean())


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("p", VARIANTS, ids=_ids)
def test_a_look_keeps_the_gait_and_its_truth(p, look):
    plain, styled = truth_for(p), truth_for(GaitParams(**{**p.__dict__, "look": look}))
    for key in GAIT_KEYS:
        assert styled[key] == plain[key], key
    assert styled["look"] == styled["params"]["look"] == look
    if LOOK_STYLES[look].zoom == (1.0, 1.0):
        assert styled["view_scale"] == [1.0, 1.0]
    if p.setting == "treadmill" or p.camera == "panning":  # the runner stays in frame throughout
        assert styled["in_view_frames"] == [0, styled["frames"] - 1]


@pytest.mark.parametrize("look", LOOKS)
def test_a_look_is_applied_and_deterministic_per_seed(look):
    frames = _look_frames(look)
    plain = _look_frames("plain")
    assert frames.shape == plain.shape and frames.dtype == np.uint8
    assert np.array_equal(frames, np.stack(list(render_frames(GaitParams(look=look, **LOOK_CLIP)))))
    if look != "plain":
        assert np.abs(frames.astype(int) - plain).mean() > 0.5
    # every look draws its own variation per seed, as plain picks colours per seed
    reseeded = GaitParams(look=look, **{**LOOK_CLIP, "seed": 5})
    other = np.stack(list(itertools.islice(render_frames(reseeded), 3)))
    assert not np.array_equal(other, frames[:3])


def test_plain_look_changes_nothing():
    """Plain is the renderer as it was: existing seeds keep their pixels and tests their meaning."""
    style = LOOK_STYLES["plain"]
    for seed in range(5):
        base = synthetic._pick_look(seed)
        assert synthetic._restyle(base, style, np.random.default_rng(seed)) == base
        assert synthetic._pick_exposure(seed, style) == synthetic._Exposure()
    tracks = _look_joints("plain")
    assert np.array_equal(tracks["view"], synthetic._identity_views(len(tracks["t_s"])))
    assert synthetic._margins(GaitParams(**LOOK_CLIP), tracks["view"]) == (0, 0)


def test_bad_look_raises():
    with pytest.raises(ValueError, match="look"):
        truth_for(GaitParams(look="sepia"))


def test_shoes_vary_shape_size_colour_and_limb_thickness():
    style = LOOK_STYLES["shoes"]
    looks = [synthetic._pick_look(seed, style) for seed in range(24)]
    shapes = {next(k for k, v in synthetic.SHOE_SHAPES.items() if v == look.shoe) for look in looks}
    assert shapes == {"trainer", "racing_flat", "dark"}
    dark = [look for look in looks if look.shoe.dark]
    assert all(sum(look.shoes) < 120 and sum(look.floor) < 200 for look in dark)  # dark on dark
    legs = [look.legs for look in looks]
    assert min(legs) < 0.85 and max(legs) > 1.2
    # drawn: the feet change, the head does not
    frames, plain, tracks = _look_frames("shoes"), _look_frames("plain"), _look_joints("plain")
    feet = _box(tracks, ["left_heel", "left_foot_index", "right_heel", "right_foot_index"], 10, 8)
    head = _box(tracks, ["nose"], 10, 5)
    change = np.abs(frames[10].astype(int) - plain[10])
    assert change[feet].mean() > 3 * max(change[head].mean(), 0.5)


def test_baggy_clothes_cover_knees_in_colours_close_to_the_wall():
    style = LOOK_STYLES["baggy"]
    looks = [synthetic._pick_look(seed, style) for seed in range(12)]
    assert {look.baggy for look in looks} == {"trousers", "long_shorts"}
    plain_looks = [synthetic._pick_look(seed) for seed in range(12)]

    def contrast(look):
        return sum(np.abs(np.subtract(c, look.wall)).mean() for c in (look.shirt, look.pants))

    assert np.mean([contrast(b) for b in looks]) < 0.5 * np.mean([contrast(p) for p in plain_looks])
    frames, plain, tracks = _look_frames("baggy"), _look_frames("plain"), _look_joints("plain")
    knees = _box(tracks, ["left_knee", "right_knee"], 10, 6)
    head = _box(tracks, ["nose"], 10, 5)
    change = np.abs(frames[10].astype(int) - plain[10])
    assert change[knees].mean() > 3 * max(change[head].mean(), 0.5)


def test_cluttered_background_has_far_more_detail():
    gray, plain = _gray(_look_frames("cluttered")), _gray(_look_frames("plain"))
    wall = (slice(0, 60), slice(0, 80))  # the top-left corner: scenery only
    floor = (slice(228, 240), slice(0, 320))  # below the treadmill deck
    assert _sharpness(gray[0][wall]) > 3 * _sharpness(plain[0][wall])
    assert _sharpness(gray[0][floor]) > 3 * _sharpness(plain[0][floor])


def test_backlit_runner_is_a_dark_low_contrast_silhouette_on_a_bright_background():
    gray, plain = _gray(_look_frames("backlit")), _gray(_look_frames("plain"))
    tracks = _look_joints("plain")
    wall = (slice(0, 60), slice(0, 80))
    # points down the middle of the trunk, the near thigh and shank and the near forearm
    bones = [("left_shoulder", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
             ("left_elbow", "left_wrist")]
    u = np.linspace(0.2, 0.8, 12)[:, None]
    pts = np.concatenate([tracks[a][10] + u * (tracks[b][10] - tracks[a][10]) for a, b in bones])
    pts = pts.astype(int)
    body, body_plain = gray[10][pts[:, 1], pts[:, 0]], plain[10][pts[:, 1], pts[:, 0]]
    assert gray[10][wall].mean() > 225 and gray[10][wall].mean() > plain[10][wall].mean()
    assert body.mean() < 0.5 * gray[10][wall].mean()
    assert body.std() < 0.5 * body_plain.std()  # skin and clothes merge into one dark shape


def test_blur_smears_the_moving_feet_most():
    gray, plain = _gray(_look_frames("blur")), _gray(_look_frames("plain"))
    tracks = _look_joints("plain")
    frames = range(len(tracks["t_s"]))
    feet = ["left_heel", "left_foot_index", "right_heel", "right_foot_index"]
    boxes = [_box(tracks, feet, i, 6) for i in frames]
    sharp = [_sharpness(gray[i][boxes[i]]) / _sharpness(plain[i][boxes[i]]) for i in frames]
    assert np.median(sharp) < 0.8
    change = np.abs(gray - plain)
    at_feet = np.mean([change[i][boxes[i]].mean() for i in frames])
    at_head = np.mean([change[i][_box(tracks, ["nose"], i, 8)].mean() for i in frames])
    assert at_feet > 2 * at_head


def test_compressed_frames_show_jpeg_blocks():
    gray, plain = _gray(_look_frames("compressed")), _gray(_look_frames("plain"))

    def blockiness(g):  # steps across 8-px block edges against steps inside blocks
        dx = np.abs(np.diff(g, axis=-1))
        return dx[..., 7::8].mean() / np.delete(dx, np.s_[7::8], axis=-1).mean()

    assert blockiness(gray) > 1.5 * blockiness(plain)
    mse = np.mean((_look_frames("compressed").astype(float) - _look_frames("plain")) ** 2)
    assert 20 < 10 * np.log10(255**2 / mse) < 38  # PSNR: visibly lossy, still a picture
    assert LOOK_STYLES["compressed"].min_crf > 28  # and the clip itself is written lossier


def _found_at(frame: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """Centre (x, y) where ``patch`` best matches ``frame``."""
    score = cv2.matchTemplate(frame, patch, cv2.TM_CCOEFF_NORMED)
    _, _, _, (x, y) = cv2.minMaxLoc(score)
    return np.array([x + patch.shape[1] / 2, y + patch.shape[0] / 2])


@pytest.mark.parametrize("look", ["handheld", "zoom"])
def test_a_moving_camera_moves_the_runner_and_the_joints_follow(look):
    """The runner's image moves (handheld) or grows and shrinks (zoom); the truth's joints are
    where the pixels show the runner, and the contacts are the plain clip's."""
    kw = dict(duration_s=3.0)
    tracks, steady = _look_joints(look, **kw), _look_joints("plain", **kw)
    frames, plain = _look_frames(look, **kw), _look_frames("plain", **kw)
    assert truth_for(GaitParams(look=look, **{**LOOK_CLIP, **kw}))["contacts"] == \
        truth_for(GaitParams(**{**LOOK_CLIP, **kw}))["contacts"]
    hip = tracks["left_hip"]
    scale = np.sqrt(np.abs(np.linalg.det(tracks["view"][:, :, :2])))
    if look == "handheld":
        assert np.ptp(hip[:, 0]) > 0.04 * 320  # the steady treadmill runner's hips hold their place
        assert np.ptp(hip[:, 1] - steady["left_hip"][:, 1]) > 0.02 * 240
        assert np.ptp(scale) < 1e-6
    else:
        assert scale.max() / scale.min() > 1.35
        thigh = np.linalg.norm(tracks["left_hip"] - tracks["left_knee"], axis=1)
        assert thigh.max() / thigh.min() > 1.35
    # the head, cut from the plain frame and scaled like the view, is found where the truth says
    # (far from the image centre, so a zoom moves it too)
    moved = []
    for i in range(0, len(hip), 10):
        x, y = steady["head_center"][i].astype(int)
        patch = cv2.resize(plain[i][y - 14:y + 14, x - 14:x + 14], None, fx=scale[i], fy=scale[i],
                           interpolation=cv2.INTER_AREA)
        want = tracks["head_center"][i]
        assert np.linalg.norm(_found_at(frames[i], patch) - want) < 3.0, i
        moved.append(np.linalg.norm(want - steady["head_center"][i]))
    assert max(moved) > 10.0  # the test can tell a moved runner from a steady one


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_pipeline_reads_a_hand_held_treadmill_clip(tmp_path):
    """What a user cares about survives a shaky phone: direction, setting, facing and cadence."""
    import formcheck

    params = GaitParams(look="handheld", seed=1, duration_s=6.0)
    truth = render_clip(params, tmp_path / "handheld.mp4")
    report = formcheck.analyze(tmp_path / "handheld.mp4")
    assert report.direction == truth["direction"] == "backward"
    assert report.setting == truth["setting"] == "treadmill"
    assert report.runner.facing == truth["facing"]
    assert report.cadence_spm == pytest.approx(truth["cadence_spm"], rel=0.03)
