"""The report's JSON form keeps its published contract (formcheck/outputs/report.schema.json)."""

from __future__ import annotations

import copy
import dataclasses
import json

import jsonschema
import pytest
from support.landmark_gait import Gait2D, make_series

from formcheck.outputs.report import (SCHEMA_PATH, SCHEMA_VERSION, ContactRecord, Metrics, MetricSummary, Report,
                                      RunnerRecord, VideoRecord)
from formcheck.pipeline import analyse_pose


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def report_json(**gait) -> dict:
    report, _ = analyse_pose(make_series(Gait2D(**gait)), VideoRecord(path="synthetic.mp4", fps=60.0))
    return json.loads(report.to_json())  # what a reader of the file gets


@pytest.mark.parametrize("gait", [
    {},  # a good backward jog
    dict(cadence=60.0, step_length_leg=0.5),  # a run too slow for real time: slow motion suspected
    dict(duty=0.65, bounce_leg=0.03),  # a walk
    dict(duration_s=1.0),  # one second: a few contacts, no full strides
], ids=["jog", "slow-motion", "walk", "short"])
def test_reports_of_every_kind_follow_the_schema(validator, gait):
    data = report_json(**gait)
    assert data["schema_version"] == SCHEMA_VERSION
    validator.validate(data)


def test_the_schema_catches_a_broken_report(validator):
    good = report_json()
    for break_it in (lambda d: d.pop("rules"), lambda d: d["rules"][0].update(status="great"),
                     lambda d: d.update(score=140), lambda d: d["contacts"][0].update(foot="middle"),
                     lambda d: d.update(schema_version=SCHEMA_VERSION + 1)):
        bad = copy.deepcopy(good)
        break_it(bad)
        assert not validator.is_valid(bad)


def test_the_schema_ships_inside_formcheck():
    from importlib.resources import files

    assert files("formcheck.outputs").joinpath("report.schema.json").is_file()


@pytest.mark.parametrize("record, where", [
    (Report, "properties"), (VideoRecord, "properties/video/properties"),
    (RunnerRecord, "properties/runner/properties"), (ContactRecord, "properties/contacts/items/properties"),
    (Metrics, "properties/metrics/properties"), (MetricSummary, "$defs/summary/oneOf/1/properties"),
])
def test_every_field_of_the_typed_records_is_in_the_published_schema(record, where):
    """A field added to a record without the schema (or dropped from one) would break readers silently."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for key in where.split("/"):
        schema = schema[int(key)] if key.isdigit() else schema[key]
    in_python = {f.name for f in dataclasses.fields(record)} - {"per_frame"}  # per_frame goes to the CSV
    in_schema = set(schema) - {"schema_version"}
    assert in_python == in_schema


def test_a_live_session_report_follows_the_schema(validator):
    report, _ = analyse_pose(make_series(Gait2D()), VideoRecord(path="camera 0", live=True, fps=15.0, seen_s=10.0,
                                                                started="2026-12-02T07:00:00"))
    data = json.loads(report.to_json())
    assert data["video"]["live"] is True and "rotation" not in data["video"]
    validator.validate(data)
