"""The due index of the group stores: a tick finds exactly the groups a scan of every group would
find (due, in a ticked partition), without scanning them, also for groups recovered behind it."""

from __future__ import annotations

import random

from pipeline.delivery import grouping, outbox
from pipeline.delivery.outbox import DictGroups
from schemas.delivery import GroupState, group_from_doc


def group(key: str, partition: int, due: float | None) -> GroupState:
    state = grouping.new_group(key, "0", "hook", {}, (0.0, 300.0, 3600.0), partition, 0.0)
    state["due"] = due
    return state


def scan(store: DictGroups, partitions: set[int], now: float) -> dict[str, float | None]:
    """What the tick found before the index: every group, checked one by one."""
    found: dict[str, float | None] = {}
    for key, doc in store.items():
        state = group_from_doc(doc)
        if state["partition"] in partitions and state["due"] is not None and state["due"] <= now:
            found[key] = state["due"]
    return found


def due(store: DictGroups, partitions: set[int], now: float) -> dict[str, float | None]:
    found = store.due(partitions, now)
    assert len(found) == len({k for k, _ in found}), "a group was found twice"
    return {k: s["due"] for k, s in found}


def test_only_due_groups_of_ticked_partitions_are_found():
    store = DictGroups()
    store.put("a", group("a", 0, 10.0), 0)
    store.put("b", group("b", 1, 10.0), 1)
    store.put("c", group("c", 0, 15.0), 0)
    store.put("d", group("d", 0, None), 0)

    assert due(store, {0}, 5.0) == {}
    assert due(store, {0}, 10.0) == {"a": 10.0}
    assert due(store, {1}, 10.0) == {"b": 10.0}  # its partition ticked in a later batch: still found
    assert due(store, {0, 1}, 20.0) == {"c": 15.0}  # a and b were taken: until they are written again
    assert due(store, {0, 1}, 5.0 + outbox.RESCAN_SECONDS) == {"a": 10.0, "b": 10.0, "c": 15.0}  # or rescanned


def test_a_rewritten_group_is_found_at_its_new_due_only_and_a_deleted_one_never():
    store = DictGroups()
    store.put("a", group("a", 0, 10.0), 0)
    store.put("a", group("a", 0, 40.0), 0)
    store.put("b", group("b", 0, 10.0), 0)
    store.delete("b", 0)

    assert due(store, {0}, 20.0) == {}
    assert due(store, {0}, 40.0) == {"a": 40.0}


def test_groups_recovered_behind_the_index_are_found():
    store = DictGroups()
    store.put("a", group("a", 0, 10.0), 0)
    assert due(store, {0}, 5.0) == {}
    dict.__setitem__(store, "r", dict(group("r", 0, 8.0)))  # as the changelog restores it after a rebalance

    assert due(store, {0}, 10.0) == {"a": 10.0, "r": 8.0}


def test_a_periodic_rescan_finds_a_group_replaced_behind_the_index(monkeypatch):
    store = DictGroups()
    store.put("a", group("a", 0, 100.0), 0)
    assert due(store, {0}, 1.0) == {}
    dict.__setitem__(store, "a", dict(group("a", 0, 5.0)))  # same count: only the rescan sees it

    assert due(store, {0}, 6.0) == {}
    assert due(store, {0}, 1.0 + outbox.RESCAN_SECONDS) == {"a": 5.0}


def test_the_index_agrees_with_a_scan_over_random_writes():
    rng = random.Random(7)
    store, now = DictGroups(), 0.0
    for _ in range(3000):
        key, partition = f"g{rng.randrange(60)}", rng.randrange(4)
        op = rng.random()
        if op < 0.55:
            partition = group_from_doc(store[key])["partition"] if key in store else partition
            store.put(key, group(key, partition, rng.choice([None, now + rng.uniform(-5, 20)])), partition)
        elif op < 0.7:
            store.delete(key, partition)
        else:
            now += rng.uniform(0, 3)
            ticked = set(rng.sample(range(4), rng.randrange(1, 5)))
            expected = scan(store, ticked, now)
            assert due(store, ticked, now) == expected
            for found in expected:  # the caller writes every group it was given back (Deliverer._flush)
                state = group_from_doc(store[found])
                store.put(found, group(found, state["partition"], now + rng.uniform(1, 30)), state["partition"])
