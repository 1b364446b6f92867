"""The delivery stage's contracts: the notify-topic messages and the persisted state of a group.

Notify topic (`<prefix>-notify`, keyed by nothing, placed by group key): a `NotifyBundle` of
`NotifyEntry`s (one per alert and destination) from the route step, or a `NotifyTick` from the
leader's timer; told apart by `type`, as they always were.

History topic (`<prefix>-history`, keyed by nothing): a `HistoryBundle` of `HistoryEntry`s (one
per notification history record) from each batch of the deliver agent, written to Elasticsearch
by the index agent; a bare `HistoryEntry` (what workers wrote before bundles) reads as a bundle of one.

Group state: one `GroupState` per aggregation group, the value of the delivery table and of its
changelog. It is a TypedDict, not a model: the grouping functions fold alerts into it on every
batch and the tick scans every group, so the stored JSON is the working form (no conversion per
read), and mypy checks every key. `group_from_doc` reads what an older worker wrote (version 1:
partition under "p", timing as the list "t") so a worker upgraded in place keeps its groups and
their outboxes; a group is written back in the current version the next time it changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import Field, TypeAdapter, model_validator

from schemas.base import Strict
from schemas.errors import SecmonError
from schemas.notification import NotificationRecord
from schemas.types import Keyword

# Bump GROUP_VERSION (and read the older shape in group_from_doc) when schemas/alert.py changes
# shape, not only when GroupState does: a group's outbox holds Alert.to_doc() documents, and since
# 0a3cac8 the webhook body carries them as they are stored, not validated into Alert again. A
# group stored before an Alert change would otherwise send receivers alerts of the old shape in a
# payload whose published JSON Schema (schemas/webhook.py) says the new one, and nothing checks
# them on the way out; the version lets group_from_doc bring such outboxes to the new shape.
GROUP_VERSION = 2
AlertStatus = Literal["open", "resolved"]


class NotifyEntry(Strict):
    """One alert for one destination (route + receiver + aggregation group)."""

    key: str = Field(description="The group key: also what places the entry in its partition.")
    route: str = Field(description="Routing-tree node id.")
    receiver: str = Field(description="Receiver name.")
    labels: dict[str, str] = Field(description="The group's label values (its group_by).")
    timing: tuple[float, float, float] = Field(description="group_wait, group_interval, repeat_interval (s).")
    blocked: str | None = Field(None, description='"experimental": recorded, never sent to a paging receiver.')
    alert: dict[str, Any] = Field(description="The alert document (`Alert.to_doc()`, validated upstream).")


class NotifyBundle(Strict):
    """The entries of one partition from one batch of alerts, in order."""

    type: Literal["alerts"] = Field(description="Message kind.")
    items: list[NotifyEntry] = Field(description="The entries.")


class NotifyTick(Strict):
    """Tells the partition's owner to look at its due groups (waits and retries without new alerts)."""

    type: Literal["tick"] = Field("tick", description="Message kind.")


NotifyMessage = Annotated[NotifyBundle | NotifyTick, Field(discriminator="type")]
NOTIFY_MESSAGE: TypeAdapter[NotifyBundle | NotifyTick] = TypeAdapter(NotifyMessage)


class HistoryEntry(Strict):
    """One history record on its way to Elasticsearch: written under this index and id, so a
    replay of the topic overwrites the document rather than doubles it."""

    index: Keyword = Field(description="The daily notifications index (`<prefix>-notifications-YYYY.MM.DD`).")
    id: Keyword = Field(description="The document id (pipeline.delivery.history.record_id).")
    record: NotificationRecord = Field(description="The history document.")


class HistoryBundle(Strict):
    """The history entries of one batch of the deliver agent, in order (one Kafka message, not one per record)."""

    entries: list[HistoryEntry] = Field(description="The entries.")

    @model_validator(mode="before")
    @classmethod
    def _bare_entry(cls, data: Any) -> Any:
        """A message of an older worker: one HistoryEntry, not wrapped."""
        if isinstance(data, dict) and "record" in data and "entries" not in data:
            return {"entries": [data]}
        return data


class RecordError(SecmonError, ValueError):
    """A stored group state this version of secmon cannot read; the message says which and why."""


class GroupTiming(TypedDict):
    """The route's timing, copied when the group was created (seconds)."""

    wait: float
    interval: float
    repeat: float


class GroupAlert(TypedDict):
    """An alert the group has seen, in its latest form."""

    doc: dict[str, Any]  # the alert document as notifications carry it (latest event ids only)
    count: int
    status: AlertStatus
    seen: float  # when this form arrived


class Outbox(TypedDict):
    """The one notification in flight: same id and content across retries, until accepted or dead-lettered."""

    id: str  # the notification id (== webhook-id)
    created: float
    attempt: int  # attempts made
    next: float  # when to attempt (again)
    since: float  # first attempt: the retry budget counts from here
    versions: dict[str, list[Any]]  # alert id -> [count, status] carried
    changed: list[str]  # alert ids new or changed since the last notification
    docs: list[dict[str, Any]]  # the alert documents carried
    truncated: int  # alerts left out (over the cap or forgotten)
    status: Literal["firing", "resolved"]


class GroupState(TypedDict):
    """One aggregation group (route, receiver, group label values): what it saw, sent, muted, holds."""

    v: int  # GROUP_VERSION
    key: str
    partition: int  # of its notify messages, and so of its changelog entries
    route: str
    receiver: str
    labels: dict[str, str]
    timing: GroupTiming
    created: float
    changed: float  # latest new finding
    sent_at: float | None  # latest accepted notification
    alerts: dict[str, GroupAlert]
    sent: dict[str, list[Any]]  # alert id -> [count, status] the receiver was last told
    muted: dict[str, str]  # alert id -> silence id
    hold: float | None  # everything pending is silenced: look again then
    outbox: Outbox | None
    overflow: int  # unsent alerts forgotten past MAX_GROUP_ALERTS, reported as truncated
    due: float | None  # when the group next needs attention


def group_from_doc(doc: dict[str, Any]) -> GroupState:
    """A group's state from its stored form, of this version or of version 1."""
    version = doc.get("v", 1)
    if version == GROUP_VERSION:
        state: GroupState = doc  # type: ignore[assignment]  # written by this version: the shape is ours
        return state
    if version == 1:
        return _from_v1(doc)
    raise RecordError(
        f"delivery group state of version {version!r}: this secmon reads versions 1 to "
        f"{GROUP_VERSION}; upgrade the worker that reads it (a newer one wrote it)"
    )


def _from_v1(doc: dict[str, Any]) -> GroupState:
    """Version 1 named the partition "p" and kept the timing as the list "t" (wait, interval, repeat)."""
    wait, interval, repeat = doc["t"]
    return {
        "v": GROUP_VERSION,
        "key": doc["key"],
        "partition": doc["p"],
        "route": doc["route"],
        "receiver": doc["receiver"],
        "labels": doc["labels"],
        "timing": {"wait": wait, "interval": interval, "repeat": repeat},
        "created": doc["created"],
        "changed": doc["changed"],
        "sent_at": doc["sent_at"],
        "alerts": doc["alerts"],
        "sent": doc["sent"],
        "muted": doc["muted"],
        "hold": doc["hold"],
        "outbox": doc["outbox"],
        "overflow": doc["overflow"],
        "due": doc["due"],
    }
