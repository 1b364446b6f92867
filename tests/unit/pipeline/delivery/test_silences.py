"""Silences: validated matchers, a time window, and which alerts they mute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from pipeline.delivery.routing import alert_labels
from pipeline.delivery.silences import Silence, SilenceCache, new_silence
from schemas.templates import mapping_of
from tests.unit.pipeline.delivery.factories import T0, alert


def silence(*matchers: str, start=T0, hours=1):
    return new_silence(list(matchers), start, start + timedelta(hours=hours), "alice", "CHG-1234")


def test_mutes_matching_alerts_inside_its_window_only():
    s = silence('rule="signin_new_device"', 'workspace=~"ws-(acme|globex)"')
    cache = SilenceCache([s])
    hit = alert_labels(alert(rule="signin_new_device", workspace="ws-acme"), {})
    miss = alert_labels(alert(rule="signin_new_device", workspace="ws-other"), {})
    t = T0.timestamp()
    assert cache.silenced_by(hit, t + 60) == s.id
    assert cache.silenced_by(miss, t + 60) is None
    assert cache.silenced_by(hit, t - 1) is None and cache.silenced_by(hit, t + 3600) is None
    assert [s.state(t - 1), s.state(t), s.state(t + 3600)] == ["pending", "active", "expired"]


@pytest.mark.parametrize(
    ("matchers", "says"),
    [
        (["sevrity=high"], "unknown label"),
        (['rule!="x"'], "mute everything"),
        (['workspace=~".*"'], "mute everything"),
    ],
)
def test_bad_silences_are_refused(matchers, says):
    with pytest.raises(ValidationError, match=says):
        silence(*matchers)


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="before it starts"):
        silence("rule=x", hours=-1)


def test_strict_mapping_from_the_model():
    props = mapping_of(Silence)
    assert props["starts_at"] == {"type": "date"} and props["comment"] == {"type": "text"}
    assert props["matchers"]["type"] == "keyword"
