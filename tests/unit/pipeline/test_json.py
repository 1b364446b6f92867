"""JSON in and out of the hot path: orjson's speed, json.loads' results."""

from __future__ import annotations

import json

import pytest

from pipeline.kafka.codec import dumps, loads
from pipeline.normalizers.base import ParseError, load_json_object, loads_like_json

ODD = [
    '{"a":-9223372036854775809}',
    '{"a":18446744073709551616}',
    '{"a":[1,{"b":123456789012345678901234}]}',
    '{"a":1e19}',
    '{"a":1e400}',
    '{"a":NaN}',
    '{"a":-Infinity}',
    '{"a":"\\ud800"}',
    '{"a":1,"a":2}',
    '{"a":-0}',
    '{"a":5e-324}',
    '{"é":"\\u00e9"}',
    "[1,2]",
    '"x"',
]


@pytest.mark.parametrize("text", ODD)
def test_loads_like_json_gives_what_json_loads_gives(text: str):
    assert repr(loads_like_json(text)) == repr(json.loads(text))
    assert repr(loads(text.encode())) == repr(json.loads(text))


@pytest.mark.parametrize("text", ['{"a":', '{"a":1,}', '\ufeff{"a":1}', "[" * 100_000])
def test_bad_json_is_reported_as_the_json_module_reports_it(text: str):
    with pytest.raises(ParseError) as err:
        load_json_object(text)
    try:
        json.loads(text)
    except RecursionError:
        assert err.value.code == "too_deep"
    except ValueError as exc:
        assert err.value.reason == f"not valid JSON: {exc}"


def test_dumps_is_compact_json_of_the_same_values():
    doc = {"a": "é", "b": [1, 2.5, None, True], "c": {"d": 2**70}}
    assert json.loads(dumps(doc)) == doc
    assert dumps({"a": 1, "b": "x"}) == b'{"a":1,"b":"x"}'
