"""Overlong fields are cut at their schema bound and named in secmon.truncated, for every normalizer.

bench.fuzz_normalizers makes each bounded field of real-format seed events overlong in its line
(all seeds there; the first ones here); the shared cut lives in schemas.bounds.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bench.fuzz_normalizers import bounds
from pipeline.enrichers.registry import default_enrichers
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.settings import SecmonSettings
from schemas.bounds import cutting, truncated_paths
from schemas.event import X509, X509Name

SETTINGS = SecmonSettings()


@pytest.mark.parametrize("source", sorted(NORMALIZERS))
def test_every_bounded_field_made_overlong_is_cut_and_named(source: str):
    parse_options, limit = SETTINGS.parse.options(), SETTINGS.parse.max_record_bytes
    found = bounds(source, NORMALIZERS[source], default_enrichers(SETTINGS), parse_options, limit, max_seeds=12)
    assert found["bad"] == []  # no internal error, no dead letter for a length
    assert found["unnamed"] == []  # every value cut at its bound is named
    assert found["cut"] > 0, f"no bounded field of {source} was exercised"


def test_lists_and_nested_input_are_cut_too_and_nothing_outside_cutting():
    names = [f"n{i}.example" for i in range(100)]
    raw = {"alternative_names": names, "subject": {"common_name": ["x" * 2000]}}
    with pytest.raises(ValidationError):  # configuration, alerts, state: an overlong value is an error
        X509.model_validate(raw)
    with cutting() as cuts:
        cert = X509.model_validate(raw)
        name = X509Name(distinguished_name="CN=" + "y" * 1100)
    assert len(cert.alternative_names) == 64 and cert.alternative_names == names[:64]
    assert cert.subject is not None and cert.subject.common_name == ["x" * 1024]
    assert truncated_paths(cert, cuts) == {"alternative_names", "subject.common_name"}
    assert truncated_paths(name, cuts) == {"distinguished_name"}
    assert len(name.distinguished_name or "") == 1024


def test_an_error_other_than_length_still_fails_inside_cutting():
    with cutting(), pytest.raises(ValidationError):
        X509.model_validate({"alternative_names": ["a"] * 100, "public_key_size": "big"})
