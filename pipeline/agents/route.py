"""Routing: events -> detect topic, one bundle per detect partition and batch of events.

The events agent (pipeline.agents.index) reads each events batch once: it writes the batch to
Elasticsearch, then sends what `Router.outs` makes of it, and only then acks the batch.

An entity's state has one owner, the detect partition of its key (`partition_of`, what the
producer's partitioner picks for that key: ticks keyed by entity land there too). Detectors that
key on the same entity (e.g. every user-keyed sign-in detector) share one route; an event routed
to several entities of one partition is carried once. A bundle holds at most MAX_BUNDLE_BYTES of
events (an event larger than that goes alone), in the order the batch had them. With
`detection.detect_bundles` false, the form before bundles: one message per event and entity key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline import metrics
from pipeline.kafka.codec import dumps, loads
from pipeline.kafka.send import Direct, Out
from pipeline.kafka.topics import partition_of
from pipeline.runtime import build_engine
from schemas.detect import MAX_BUNDLE_BYTES, bundle_message, event_message
from schemas.event import Event

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


class Bundles:
    """The bundles of one batch, per detect partition, closed at MAX_BUNDLE_BYTES of events."""

    def __init__(self) -> None:
        self.done: list[tuple[int, bytes]] = []  # (partition, bundle) in the order they closed
        self._open: dict[int, tuple[list[bytes], list[tuple[int, str, list[str]]], dict[int, int]]] = {}
        self._size: dict[int, int] = {}

    def add(self, partition: int, n: int, event: bytes, key: str, detectors: list[str]) -> None:
        """Route event `n` of the batch (its JSON) to `detectors` for entity `key`."""
        events, routes, index = self._open.get(partition) or ([], [], {})
        if n not in index:
            if events and self._size[partition] + len(event) > MAX_BUNDLE_BYTES:
                self._close(partition)
                events, routes, index = [], [], {}
            index[n] = len(events)
            events.append(event)
            self._size[partition] = self._size.get(partition, 0) + len(event)
        routes.append((index[n], key, detectors))
        self._open[partition] = (events, routes, index)

    def close(self) -> list[tuple[int, bytes]]:
        """Every bundle of the batch: closed ones first, then the open ones by partition."""
        for partition in sorted(self._open):
            self._close(partition)
        return self.done

    def _close(self, partition: int) -> None:
        events, routes, _ = self._open.pop(partition)
        self._size.pop(partition, None)
        self.done.append((partition, bundle_message(events, routes)))


class Router:
    """The detect topic's outputs of a batch of events: Engine.routes per event, in bundles (or, with
    `detection.detect_bundles` false, one message per event and entity key). Run by the events agent
    (pipeline.agents.index) on the events it decoded once for Elasticsearch."""

    def __init__(self, rt: Runtime) -> None:
        from detectors.state import DictStore

        self._rt = rt
        self._router = build_engine(rt, DictStore())  # routes() reads no state
        self._bundled = rt.settings.detection.detect_bundles
        self._detect = Direct(rt.app, rt.names.detect)

    def outs(self, events: Sequence[tuple[Any, bytes, Event]]) -> list[Out]:
        """The detect records of (message, its event JSON, the event), in their order."""
        rt = self._rt
        # the detect topic's partitions as the producer sees them (ticks are keyed, not placed)
        partitions = rt.app.consumer.topic_partitions(rt.names.detect) or rt.settings.kafka.partitions
        bundles, outs, detect = Bundles(), [], self._detect
        for n, (message, raw, event) in enumerate(events):
            by_key: dict[str, list[str]] = {}
            for det_id, key in self._router.routes(event):
                by_key.setdefault(key, []).append(det_id)
            # the event's own JSON (an object), not a dump of the model: the detect agent validates it again
            for key, detector_ids in by_key.items():
                if self._bundled:
                    bundles.add(partition_of(key, partitions), n, raw, key, detector_ids)
                else:  # the form before bundles, keyed by entity (the producer places it)
                    body = dumps(event_message(detector_ids, key, loads(raw)))
                    outs.append(Out(detect, "detect", key.encode(), body, origin=message))
            metrics.EVENTS_OUT.labels(stage="route", source=event.event.module).inc(len(by_key))
        outs += [Out(detect, "detect", None, body, partition=p) for p, body in bundles.close()]
        return outs
