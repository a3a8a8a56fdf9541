"""Column-wise record validation answers exactly as checking record by record, field by field, would."""
from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models_registry.exceptions import InvalidRecords
from models_registry.pipelines import get_pipeline

PIPELINE = get_pipeline("flights.journey_time")
RECORD = {
    "scheduled_departure": "2013-03-02T07:15:00", "carrier": "UA", "origin": "EWR", "dest": "IAH",
    "distance": 1400, "temp": 39.9, "humid": 55.0, "wind_speed": 10.4, "wind_gust": None, "precip": 0.0,
    "pressure": 1012.0, "visib": 10.0,
}
MISSING = object()


def record_by_record(records):
    """The reference: the first record with a problem, and in it the first field in `inputs` order."""
    if not isinstance(records, list) or not records:
        raise InvalidRecords("records must be a non-empty list of objects", field="records")
    clean = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidRecords(f"record {index} is not an object", field=f"records[{index}]")
        row = {}
        for spec in PIPELINE.inputs:
            value = record.get(spec.name, MISSING)
            where = f"records[{index}].{spec.name}"
            if value is MISSING:
                raise InvalidRecords(f"record {index}: missing field {spec.name!r}", field=where)
            if value is None:
                if not spec.nullable:
                    raise InvalidRecords(f"record {index}: field {spec.name!r} must not be null", field=where)
                row[spec.name] = None
            elif spec.kind == "number":
                try:
                    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
                except OverflowError:  # an integer beyond float range
                    ok = False
                if not ok:
                    raise InvalidRecords(f"record {index}: field {spec.name!r} must be a finite number", field=where)
                row[spec.name] = float(value)
            elif spec.kind == "string":
                if not isinstance(value, str) or not value.strip():
                    raise InvalidRecords(f"record {index}: field {spec.name!r} must be a non-empty string", field=where)
                if "\x00" in value:
                    raise InvalidRecords(f"record {index}: field {spec.name!r} contains a NUL character", field=where)
                row[spec.name] = value.strip()
            else:
                if not isinstance(value, str):
                    raise InvalidRecords(
                        f"record {index}: field {spec.name!r} must be an ISO 8601 date-time string", field=where
                    )
                try:
                    datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    raise InvalidRecords(
                        f"record {index}: field {spec.name!r} is not an ISO 8601 date-time", field=where
                    ) from None
                row[spec.name] = value
        clean.append(row)
    return clean


BAD_VALUES = {
    "number": [None, True, "far", "12", float("nan"), float("inf"), 10**400, [], {}, 7, -3.5],
    "string": [None, "", "   ", " UA ", "U\x00A", 5, True, "B6"],
    "datetime": [None, "yesterday", "2013-13-01T00:00:00", 20130101, "2013-03-02T07:15:00Z",
                 "2013-03-02T18:40:00-05:00", "2013-03-02 07:15", "2013-03-02T07:15:00\x00"],
}


@st.composite
def batches(draw):
    size = draw(st.integers(min_value=1, max_value=6))
    records = []
    for _ in range(size):
        if draw(st.integers(0, 15)) == 0:
            records.append(draw(st.sampled_from([42, "record", None, [RECORD]])))
            continue
        record = dict(RECORD)
        for spec in PIPELINE.inputs:
            roll = draw(st.integers(0, 9))
            if roll == 0:
                del record[spec.name]
            elif roll == 1:
                record[spec.name] = draw(st.sampled_from(BAD_VALUES[spec.kind]))
        if draw(st.booleans()):
            record["extra"] = "ignored"
        records.append(record)
    return records


def outcome(validate, records):
    try:
        return "ok", validate(records)
    except InvalidRecords as exc:
        return "error", (exc.field, exc.message)


@settings(max_examples=400, deadline=None)
@given(batches())
def test_column_wise_validation_agrees_with_record_by_record(records):
    expected_kind, expected = outcome(record_by_record, records)
    kind, got = outcome(PIPELINE.validate_records, records)

    assert kind == expected_kind, (got, expected)
    if kind == "ok":
        assert got.rows() == expected
    else:
        assert got == expected


@pytest.mark.parametrize("records", [[], {}, "records", None])
def test_records_must_be_a_non_empty_list(records):
    with pytest.raises(InvalidRecords) as error:
        PIPELINE.validate_records(records)
    assert error.value.field == "records"


def test_validated_columns_are_typed_arrays():
    batch = PIPELINE.validate_records([RECORD, {**RECORD, "carrier": " B6 ", "temp": 41, "wind_gust": 20.5}])

    assert batch["temp"].dtype == np.float64 and batch["temp"].tolist() == [39.9, 41.0]
    assert np.isnan(batch["wind_gust"][0]) and batch["wind_gust"][1] == 20.5
    assert batch["carrier"].tolist() == ["UA", "B6"]
    assert batch.rows()[0]["wind_gust"] is None and len(batch) == 2


def test_a_bad_field_in_an_earlier_record_wins_over_a_later_non_object():
    with pytest.raises(InvalidRecords) as error:
        PIPELINE.validate_records([RECORD, {**RECORD, "distance": "far"}, 42])
    assert error.value.field == "records[1].distance"
