"""Kafka topic names and their creation; the same names in the shipper, the worker and tools."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.partitioner import murmur2

from pipeline.context.models import TABLES as CONTEXT_TABLES
from pipeline.kafka.config import kafka_python_kwargs
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.settings import SecmonSettings

log = logging.getLogger(__name__)
HOUR_MS = 3600 * 1000
# Context topics hold the latest row per id for as long as it exists: every worker reads them whole.
# A purged row's old value must not outlive the 24 h deletion promise on the broker: small segments
# (compaction never touches the active one), compaction forced within 12 h, tombstones kept 6 h.
COMPACTED_TOPIC_CONFIG = {
    "segment.ms": str(HOUR_MS),
    "max.compaction.lag.ms": str(12 * HOUR_MS),
    "delete.retention.ms": str(6 * HOUR_MS),
}
CONTEXT_TOPIC_CONFIG = {"cleanup.policy": "compact", **COMPACTED_TOPIC_CONFIG}
# The detector-state changelog takes a write per event and detector, and a starting worker replays
# it whole (store memory://): that replay is most of a restart's catch-up. Segments roll every
# 10 min so compaction keeps the replay near the live entries plus the last minutes of writes.
DETECTOR_STATE_TOPIC_CONFIG = {**COMPACTED_TOPIC_CONFIG, "segment.ms": str(HOUR_MS // 6)}
# Forget requests must outlive a worker outage, not much more (they name a deleted workspace).
PURGE_TOPIC_CONFIG = {
    "cleanup.policy": "delete",
    "retention.ms": str(7 * 24 * HOUR_MS),
    "segment.ms": str(24 * HOUR_MS),
}


def data_topic_config(retention_hours: int) -> dict[str, str]:
    """Data topics: records deleted after `retention_hours`, in segments of at most an hour (Kafka
    deletes whole segments, and rolls one only after segment.ms: 7 days by default)."""
    return {"retention.ms": str(retention_hours * HOUR_MS), "segment.ms": str(HOUR_MS)}


@dataclass(frozen=True)
class TopicNames:
    """Every topic secmon reads or writes, derived from one prefix."""

    prefix: str

    def raw(self, source: str) -> str:
        """Raw records of one source: the line bytes as the value, origin in headers."""
        return f"{self.prefix}-raw-{source}"

    @property
    def events(self) -> str:
        """Normalized, enriched events (value: Event JSON, key: event id)."""
        return f"{self.prefix}-events"

    @property
    def detect(self) -> str:
        """Events repartitioned by entity (bundles per partition, schemas.detect) so each entity's state has one owner."""
        return f"{self.prefix}-detect"

    @property
    def alerts(self) -> str:
        """Alerts as created and updated (value: Alert JSON, key: alert id)."""
        return f"{self.prefix}-alerts"

    @property
    def deadletter(self) -> str:
        """Records that could not be processed, with the reason."""
        return f"{self.prefix}-deadletter"

    @property
    def notify(self) -> str:
        """Alert delivery: group entries and ticks, partitioned by group key (internal to the workers)."""
        return f"{self.prefix}-notify"

    @property
    def history(self) -> str:
        """Notification history records (HistoryBundle JSON) for the index agent to write to Elasticsearch."""
        return f"{self.prefix}-history"

    @property
    def purge(self) -> str:
        """Forget requests of purged workspaces (ForgetRequest JSON), fanned out to the detect partitions."""
        return f"{self.prefix}-purge"

    def context(self, table: str) -> str:
        """Compacted rows of one context table (key: row id, value: row JSON, tombstone: delete)."""
        return f"{self.prefix}-context-{table}"

    @property
    def contexts(self) -> list[str]:
        """The compacted topic of every context table."""
        return [self.context(t) for t in CONTEXT_TABLES]

    def all(self) -> list[str]:
        """Every topic name, raw topics of every registered source included."""
        return (
            [self.raw(s) for s in sorted(NORMALIZERS)]
            + [self.events, self.detect, self.alerts, self.deadletter, self.notify, self.history, self.purge]
            + self.contexts
        )


def ensure_topics(settings: SecmonSettings) -> list[str]:
    """Create every missing topic with the configured partitions and replication (before the
    worker starts: a topic Faust creates itself can miss the first assignment, and its agent then
    gets no partitions until the next rebalance)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError, for_code

    topics = TopicNames(settings.kafka.topic_prefix)
    names, compacted = topics.all(), set(topics.contexts)
    admin = KafkaAdminClient(**kafka_python_kwargs(settings.kafka), client_id="secmon-admin")
    try:
        existing = set(admin.list_topics())
        new = []
        for name in (n for n in names if n not in existing):
            if name in compacted:  # small tables every worker reads whole: one partition keeps them in order
                new.append(NewTopic(name, 1, settings.kafka.replication_factor, topic_configs=CONTEXT_TOPIC_CONFIG))
            elif name == topics.purge:  # rare and small; one partition keeps the parts of a request in order
                new.append(NewTopic(name, 1, settings.kafka.replication_factor, topic_configs=PURGE_TOPIC_CONFIG))
            else:
                new.append(
                    NewTopic(
                        name,
                        settings.kafka.partitions,
                        settings.kafka.replication_factor,
                        topic_configs=data_topic_config(settings.kafka.retention_hours),
                    )
                )
        # one request for all of them (one per topic costs ~0.15 s each on a busy broker); a topic
        # another process created meanwhile is fine, any other refusal is raised with its reason
        result = admin.create_topics(new, raise_errors=False) if new else {"topics": []}
        for topic in result["topics"]:
            error = for_code(topic["error_code"])
            if error is TopicAlreadyExistsError:
                continue
            if topic["error_code"]:
                raise error(f"creating topic {topic['name']}: {topic['error_message']}")
            log.info("created topic %s", topic["name"])
    finally:
        admin.close()
    return names


def partition_of(entity_key: str, partitions: int) -> int:
    """The detect partition of an entity key: what the producer's default partitioner picks."""
    return (murmur2(entity_key.encode()) & 0x7FFFFFFF) % partitions
