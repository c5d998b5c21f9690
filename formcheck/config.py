"""Every threshold in one place, with RULES.md defaults, overridable from TOML.

A TOML file may set any field, e.g.::

    [thresholds]
    cadence_pass = 175
    elbow_pass = [75, 105]
"""

from __future__ import annotations

import dataclasses
import math
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


MAX_CONFIG_BYTES = 64 * 1024  # a thresholds file is a few hundred bytes


def load_thresholds(path: str | Path | None = None, **overrides) -> Thresholds:
    """Defaults, then the TOML file's ``[thresholds]`` table, then keyword overrides.

    Anything else (not a table, unknown names, strings, nan, a pair out of order, a value outside
    the range the app's widget offers) is a ``ConfigError`` naming the file and the field."""
    values: dict = {}
    if path is not None:
        values.update(_thresholds_table(_read_toml(Path(path)), str(path)))
    values.update(overrides)
    return _build(values, source=str(path or "overrides"))


def _read_toml(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"Config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KB; "
                              "a thresholds file is a few lines.")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"Config file {path} is a folder, not a TOML file.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from exc
    except RecursionError as exc:  # absurdly deep nesting
        raise ConfigError(f"Config file {path} is nested too deeply to be a thresholds file.") from exc


def _thresholds_table(data: dict, source: str) -> dict:
    """The ``[thresholds]`` table, or the top level when the file has none."""
    table = data.get("thresholds", data)
    if not isinstance(table, dict):
        raise ConfigError(f"In {source}, 'thresholds' must be a table ([thresholds] with one name = value "
                          f"per line), not {type(table).__name__}.")
    return table


def _build(values: dict, source: str) -> Thresholds:
    known = {f.name: f for f in fields(Thresholds)}
    clean = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"Unknown threshold '{key}' in {source}; known ones: {', '.join(known)}.")
        clean[key] = _value(key, value, isinstance(getattr(Thresholds, key), tuple), source)
    return Thresholds(**clean)


def _value(key: str, value, pair: bool, source: str) -> float | tuple[float, float]:
    """One threshold, checked: finite numbers (not strings or booleans), a pair low <= high, and
    within the range the app's widget for it offers (so a file never breaks the sidebar)."""
    what = "a number pair [low, high]" if pair else "a number"
    items = list(value) if pair and isinstance(value, (list, tuple)) else [value]
    if (pair and len(items) != 2) or not all(_is_number(v) for v in items):
        raise ConfigError(f"Threshold '{key}' in {source} must be {what}, not {_shown(value)}.")
    numbers = tuple(float(v) for v in items)
    if not all(math.isfinite(v) for v in numbers):
        raise ConfigError(f"Threshold '{key}' in {source} must be finite, not {_shown(value)}.")
    if pair and numbers[0] > numbers[1]:
        raise ConfigError(f"Threshold '{key}' in {source} must be [low, high] with low <= high, not {_shown(value)}.")
    limits = _widget_range(key)
    if limits and not all(limits[0] <= v <= limits[1] for v in numbers):
        raise ConfigError(f"Threshold '{key}' in {source} must be between {limits[0]:g} and {limits[1]:g}, "
                          f"not {_shown(value)}.")
    return numbers if pair else numbers[0]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _widget_range(key: str) -> tuple[float, float] | None:
    from formcheck.cues import editable_thresholds  # cues reads Thresholds: imported late

    return next(((e.low, e.high) for e in editable_thresholds() if e.name == key), None)


def as_dict(thresholds: Thresholds) -> dict:
    return dataclasses.asdict(thresholds)
