"""Every threshold in one place, with RULES.md defaults, overridable from TOML.

A TOML file may set any field, e.g.::

    [thresholds]
    cadence_pass = 175
    elbow_pass = [75, 105]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from formcheck.errors import ConfigError


@dataclass(frozen=True)
class Thresholds:
    trunk_lean_pass: tuple[float, float] = (2.0, 15.0)
    trunk_lean_caution: tuple[float, float] = (0.0, 20.0)
    trunk_range_pass: float = 10.0
    trunk_sd_pass: float = 4.0
    trunk_range_fail: float = 15.0
    elbow_pass: tuple[float, float] = (70.0, 110.0)
    elbow_caution: tuple[float, float] = (50.0, 130.0)
    opposition_r_pass: float = 0.5
    same_side_r_fail: float = 0.0
    cadence_pass: float = 170.0
    cadence_caution: float = 160.0
    step_length_pass: float = 0.90
    step_length_caution: float = 1.10
    overreach_pass: float = 0.30
    overreach_caution: float = 0.40
    forefoot_pitch_pass: float = 5.0
    heel_pitch_fail: float = -10.0
    drag_clearance_leg: float = 0.03
    drag_fraction_fail: float = 0.30
    oscillation_pass: float = 0.10
    oscillation_caution: float = 0.12
    head_check_every_s: float = 20.0
    head_check_fail_after_s: float = 30.0
    head_back_fraction_fail: float = 0.5
    contact_time_range: tuple[float, float] = (0.12, 0.45)


def load_thresholds(path: str | Path | None = None, **overrides) -> Thresholds:
    """Defaults, then the TOML file's ``[thresholds]`` table, then keyword overrides."""
    values: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"Config file {path} does not exist.") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
        values.update(data.get("thresholds", data))
    values.update(overrides)
    return _build(values, source=str(path or "overrides"))


def _build(values: dict, source: str) -> Thresholds:
    known = {f.name: f for f in fields(Thresholds)}
    clean = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"Unknown threshold '{key}' in {source}; known ones: {', '.join(known)}.")
        default = getattr(Thresholds, key)
        try:
            clean[key] = tuple(float(v) for v in value) if isinstance(default, tuple) else float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Threshold '{key}' in {source} must be a number"
                              f"{' pair' if isinstance(default, tuple) else ''}, not {value!r}.") from exc
        if isinstance(default, tuple) and len(clean[key]) != 2:
            raise ConfigError(f"Threshold '{key}' in {source} must be a pair [low, high].")
    return Thresholds(**clean)


def as_dict(thresholds: Thresholds) -> dict:
    return dataclasses.asdict(thresholds)
