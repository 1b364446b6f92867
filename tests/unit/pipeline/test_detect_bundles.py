"""Route bundles: one detect message per partition and batch, read by the detect agent as the
per-entity messages were (same events, same routes, same order, replays still skipped)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from pipeline.agents.detect import FaustTableStore, _decode
from pipeline.agents.route import Bundles
from pipeline.kafka.codec import dumps
from schemas.detect import MAX_BUNDLE_BYTES, EventBundle, EventMessage, bundle_message, event_message
from tests.factories import signin
from tests.unit.pipeline.test_detect_replay import Table


def _value(**fields) -> bytes:
    return dumps(signin(**fields).to_doc())


def test_a_bundle_reads_back_as_its_events_and_routes_in_order() -> None:
    first, second = _value(**{"event.id": "e1"}), _value(**{"event.id": "e2", "user.name": "carol"})
    bundles = Bundles()
    bundles.add(2, 0, first, "bob", ["a", "b"])
    bundles.add(1, 1, second, "carol", ["a"])
    bundles.add(2, 0, first, "203.0.113.5", ["c"])  # the same event for another entity of partition 2
    bundles.add(2, 1, second, "carol", ["b"])
    (p1, b1), (p2, b2) = bundles.close()
    assert (p1, p2) == (1, 2)
    one, two = _decode(b1, {}), _decode(b2, {})
    assert isinstance(one, EventBundle) and isinstance(two, EventBundle)
    assert [e.event.id for e in two.events] == ["e1", "e2"], "each event once per bundle, in batch order"
    assert two.routes == [(0, "bob", ["a", "b"]), (0, "203.0.113.5", ["c"]), (1, "carol", ["b"])]
    user = one.events[0].user
    assert one.routes == [(0, "carol", ["a"])] and user is not None and user.name == "carol"
    assert two.events[0] == EventMessage.model_validate(event_message(["a"], "bob", orjson.loads(first))).event


def test_a_bundle_reads_as_its_events_read_one_by_one_and_strips_nothing_else() -> None:
    value = b"  " + _value(**{"event.id": "e1"}) + b"\n"
    bundles = Bundles()
    bundles.add(0, 0, value.strip(), "bob", ["a"])
    ((_, body),) = bundles.close()
    bundle = _decode(body, {})
    old = _decode(dumps(event_message(["a"], "bob", orjson.loads(value))), {})  # the form before bundles
    assert isinstance(bundle, EventBundle) and isinstance(old, EventMessage)
    assert bundle.events == [old.event] and bundle.routes == [(0, old.key, old.detectors)]


def test_a_bundle_closes_at_its_size_bound_and_keeps_the_partition_order() -> None:
    value = _value()
    per_bundle = MAX_BUNDLE_BYTES // len(value)
    bundles = Bundles()
    for n in range(per_bundle + 3):
        bundles.add(0, n, value, f"user{n}", ["a"])
    done = bundles.close()
    assert [p for p, _ in done] == [0, 0]
    sizes = [len(orjson.loads(body)["events"]) for _, body in done]
    assert sizes == [per_bundle, 3]
    keys = [r[1] for _, body in done for r in orjson.loads(body)["routes"]]
    assert keys == [f"user{n}" for n in range(per_bundle + 3)], "routes stay in the batch's order"
    assert all(len(body) < 1_000_000 for _, body in done), "each well under Kafka's message limit"


def test_an_event_larger_than_the_bound_goes_alone() -> None:
    big = _value(message="x" * (MAX_BUNDLE_BYTES // 2))
    bundles = Bundles()
    for n in range(3):
        bundles.add(0, n, big, f"user{n}", ["a"])
    assert [len(orjson.loads(body)["events"]) for _, body in bundles.close()] == [1, 1, 1]


def test_a_bundle_naming_a_missing_event_or_another_version_is_refused() -> None:
    value = _value()
    with pytest.raises(ValidationError):
        _decode(bundle_message([value], [(1, "bob", ["a"])]), {})
    doc = orjson.loads(bundle_message([value], [(0, "bob", ["a"])]))
    with pytest.raises(ValidationError):
        _decode(dumps({**doc, "bundle": 2}), {})
    with pytest.raises(ValidationError):
        _decode(dumps({**doc, "extra": 1}), {})


def test_bundle_positions_order_after_and_among_the_older_form() -> None:
    table = Table({"d|k": {"v": 2, "at": [3, 10]}, "e|k": {"v": 2, "at": [3, 12, 4]}})
    store = FaustTableStore(table)
    store.begin(3, 10)
    assert store.applied("d|k"), "the same message before bundles"
    store.begin(3, 11, 0)
    assert not store.applied("d|k"), "a later bundle"
    store.begin(3, 12, 4)
    assert store.applied("e|k"), "the same route of the same bundle: a replay"
    store.begin(3, 12, 3)
    assert store.applied("e|k"), "an earlier route of it"
    store.begin(3, 12, 5)
    assert not store.applied("e|k"), "a later route of the same bundle"
    store.begin(3, 13)
    assert not store.applied("e|k"), "a message after the bundle, in the form before bundles"
