"""Notify-topic messages read back as the entries the route step wrote; anything else raises a
ValueError that says what is wrong (the deliver agent dead-letters the message with it)."""

from __future__ import annotations

import pytest

from pipeline.delivery.outbox import items_of, route_messages, tick
from schemas.delivery import NOTIFY_MESSAGE, NotifyBundle, NotifyTick
from tests.unit.pipeline.delivery import factories
from tests.unit.pipeline.delivery.factories import alert


def test_entries_read_back_as_pydantic_reads_them_from_json(tmp_path):
    tree = factories.tree(factories.settings(tmp_path))
    alerts = [alert(user=f"u{i}@acme.example", workspace="ws-\u00e9", count=i + 1) for i in range(20)]

    for partition, value in route_messages(tree, alerts, 4):
        items = items_of(partition, value)
        expected = NOTIFY_MESSAGE.validate_json(value)
        assert isinstance(expected, NotifyBundle)
        assert [i.value for i in items] == expected.items
        assert [(i.partition, i.key) for i in items] == [(partition, e.key) for e in expected.items]
    assert items_of(3, tick())[0].value == NotifyTick()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b'{"type":"alerts","items":[{"key":"k"}]}', "Field required"),
        (b'{"type":"nudge"}', "tag"),
        (b'{"type":"alerts","items":[', "unexpected end"),
        (b"\xff", "utf-8"),
    ],
)
def test_what_is_not_a_notify_message_raises_a_value_error_saying_why(value, says):
    with pytest.raises(ValueError, match=f"(?i){says}"):
        items_of(0, value)
