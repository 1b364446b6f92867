"""The outbox store of delivery, Faust-free: notify-topic messages in, group states out.

Stage 1 of delivery, `route_messages(tree, alerts, partitions)`: alerts -> one entry per
destination (route + receiver + group) in the `<prefix>-notify` partition of its group key
(`partition_of`), bundled per partition. Repartitioning by group key gives every group one owner,
so its state, with the notification in its outbox, lives in one table partition (a `GroupStore`).
A batch's new states are written by `commit`, after the rest of its `Effects` are durable; the
send loop (`pipeline.delivery.service`) reads and plans them.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from pipeline.delivery.routing import RoutingTree
from pipeline.kafka.codec import dumps
from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.delivery import NOTIFY_MESSAGE, GroupState, NotifyEntry, NotifyTick, group_from_doc

MAX_BUNDLE_BYTES = 256 * 1024  # well under Kafka's default 1 MiB message limit
RESCAN_SECONDS = 30.0  # the due index is rebuilt from every group at least this often


class GroupStore(Protocol):
    """Group key -> group state; `partition` says which changelog partition a write belongs to.

    `get` and `items` return the stored form, of any version: `group_from_doc` reads it."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The group's stored state, or None."""

    def put(self, key: str, value: GroupState, partition: int) -> None:
        """Replace the group's state."""

    def delete(self, key: str, partition: int) -> None:
        """Forget the group."""

    def items(self) -> Iterable[tuple[str, dict[str, Any]]]:
        """Every group held here, in its stored form."""

    def due(self, partitions: set[int], now: float) -> list[tuple[str, GroupState]]:
        """The groups of these partitions that are due at `now` (send, retry or expire)."""


class DueIndex:
    """When each group is next due, so a tick costs O(due groups), not O(groups).

    A heap of (due, key), pushed on every write of a group; an entry whose group is gone or has
    another due since is stale and skipped. Groups that reach the store without a write through
    it (recovered from the changelog after a start or a rebalance) are found by a full scan: when
    the number of groups differs from the number written, and every RESCAN_SECONDS regardless.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._known: set[str] = set()
        self._scanned_at: float | None = None

    def note(self, key: str, state: GroupState | None) -> None:
        """A group was written (None: deleted)."""
        if state is None:
            self._known.discard(key)
            return
        self._known.add(key)
        if state["due"] is not None:
            heapq.heappush(self._heap, (state["due"], key))

    def due(
        self, groups: Mapping[str, dict[str, Any]], partitions: set[int], now: float
    ) -> list[tuple[str, GroupState]]:
        """The groups of `partitions` due at `now`, each once, read from `groups` (the store's data)."""
        if self._scanned_at is None or now - self._scanned_at >= RESCAN_SECONDS or len(groups) != len(self._known):
            self._rebuild(groups, now)
        found: dict[str, GroupState] = {}
        elsewhere: list[tuple[float, str]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            doc = groups.get(entry[1])
            if doc is None or entry[1] in found:
                continue
            state = group_from_doc(doc)
            if state["due"] != entry[0]:
                continue  # stale: the group's current due has its own entry (or it has none)
            if state["partition"] in partitions:
                found[entry[1]] = state
            else:  # not ticked in this batch: its partition's tick comes in another
                elsewhere.append(entry)
        for entry in elsewhere:
            heapq.heappush(heap, entry)
        return list(found.items())

    def _rebuild(self, groups: Mapping[str, dict[str, Any]], now: float) -> None:
        heap, known = [], set()
        for key, doc in list(groups.items()):
            known.add(key)
            due = group_from_doc(doc)["due"]
            if due is not None:
                heap.append((due, key))
        heapq.heapify(heap)
        self._heap, self._known, self._scanned_at = heap, known, now


class DictGroups(dict):
    """In-process GroupStore (tests, benchmarks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index = DueIndex()

    def put(self, key: str, value: GroupState, partition: int) -> None:
        self[key] = value
        self.index.note(key, value)

    def delete(self, key: str, partition: int) -> None:
        self.pop(key, None)
        self.index.note(key, None)

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:  # type: ignore[override]
        return iter(list(super().items()))

    def due(self, partitions: set[int], now: float) -> list[tuple[str, GroupState]]:
        return self.index.due(self, partitions, now)


@dataclass(frozen=True)
class Item:
    """One decoded notify-topic message: its partition, group key (None: a tick) and content."""

    partition: int
    key: str | None
    value: NotifyEntry | NotifyTick


@dataclass
class Effects:
    """What a batch produced for the caller to write before acking it."""

    history: list[dict[str, Any]] = field(default_factory=list)  # bulk actions
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # delivery_failed
    states: dict[str, tuple[GroupState | None, int]] = field(default_factory=dict)  # None = delete the group
    sent: int = 0


def commit(store: GroupStore, effects: Effects) -> None:
    """Write a batch's new group states (after its other effects are durable)."""
    for key, (state, partition) in effects.states.items():
        if state is None:
            store.delete(key, partition)
        else:
            store.put(key, state, partition)


def partition_of(group_key: str, partitions: int) -> int:
    """The notify-topic partition (and changelog partition) that owns a group: a stable hash."""
    return int.from_bytes(hashlib.blake2b(group_key.encode(), digest_size=8).digest(), "big") % partitions


def route_messages(tree: RoutingTree, alerts: Iterable[Alert], partitions: int) -> list[tuple[int, bytes]]:
    """(partition, value) notify-topic messages for a batch of alerts.

    Each destination (route + receiver + group) of each alert is one entry, placed in the partition
    of its group key; the entries of one partition travel as bundles of at most MAX_BUNDLE_BYTES,
    in order, so the topic carries a few messages per batch instead of one per alert and receiver.
    """
    entries: dict[int, list[bytes]] = {}
    for alert in alerts:
        doc = alert.to_doc()
        for dest in tree.destinations(alert):
            t = dest.route.timing
            # a NotifyEntry's JSON, written directly: its parts are validated already (the alert
            # upstream, the rest from the routing tree) and `items_of` validates it on the way out
            entry = {
                "key": dest.group_key,
                "route": dest.route.id,
                "receiver": dest.receiver,
                "labels": dest.group_labels,
                "timing": (t.wait, t.interval, t.repeat),
                "blocked": dest.blocked,
                "alert": doc,
            }
            entries.setdefault(partition_of(dest.group_key, partitions), []).append(dumps(entry))
    return [(p, bundle) for p, items in sorted(entries.items()) for bundle in _bundles(items)]


def _bundles(items: list[bytes]) -> Iterator[bytes]:
    start, size = 0, 0
    for i, item in enumerate(items):
        if size + len(item) > MAX_BUNDLE_BYTES and i > start:
            yield b'{"type":"alerts","items":[' + b",".join(items[start:i]) + b"]}"
            start, size = i, 0
        size += len(item) + 1
    yield b'{"type":"alerts","items":[' + b",".join(items[start:]) + b"]}"


def items_of(partition: int, value: bytes) -> list[Item]:
    """The Items of one notify-topic message (a tick, or a bundle of group entries); a message
    that is not one raises a ValueError saying what is wrong (pydantic's ValidationError, or
    orjson's JSONDecodeError when it is not JSON).

    orjson, then validation of the objects: a third of the time of pydantic's own JSON parsing
    here, where most of each entry is an alert document typed Any."""
    message = NOTIFY_MESSAGE.validate_python(orjson.loads(value))
    if isinstance(message, NotifyTick):
        return [Item(partition, None, message)]
    return [Item(partition, entry.key, entry) for entry in message.items]


def tick() -> bytes:
    """The value of a tick message: tells the partition's owner to look at due groups."""
    return b'{"type":"tick"}'
