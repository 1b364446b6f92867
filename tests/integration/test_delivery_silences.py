"""`secmon silence add|list|expire` against the real Elasticsearch node."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from pipeline.delivery import history, silences
from pipeline.delivery.routing import alert_labels
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import client
from schemas.notification import NotificationRecord
from schemas.templates import mapping_of
from tests.integration.conftest import ES_URL
from tests.unit.pipeline.delivery.factories import alert


def test_silences_are_created_listed_applied_and_expired_from_the_cli(stack):
    added = stack.secmon(
        "silence",
        "add",
        'rule="signin_new_device"',
        'workspace=~"ws-(acme|globex)"',
        "--duration",
        "2h",
        "--comment",
        "CHG-1234 rollout",
        "--author",
        "alice",
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()

    listed = stack.secmon("silence", "list")
    assert listed.returncode == 0 and silence_id in listed.stdout
    assert "active" in listed.stdout and "alice" in listed.stdout and "CHG-1234 rollout" in listed.stdout

    cache = asyncio.run(_cache(stack.prefix))  # what a worker would load
    labels = alert_labels(alert(rule="signin_new_device", workspace="ws-acme"), {})
    assert cache.silenced_by(labels, _now()) == silence_id
    assert cache.silenced_by(alert_labels(alert(rule="signin_new_device", workspace="ws-x"), {}), _now()) is None

    expired = stack.secmon("silence", "expire", silence_id)
    assert expired.returncode == 0, expired.stderr
    assert silence_id not in stack.secmon("silence", "list").stdout
    everything = stack.secmon("silence", "list", "--all").stdout
    assert silence_id in everything and "expired" in everything
    assert asyncio.run(_cache(stack.prefix)).silences == []


def test_bad_silences_and_unknown_ids_say_what_is_wrong(stack):
    everything = stack.secmon("silence", "add", 'rule!="x"', "--comment", "oops")
    assert everything.returncode == 2 and "mute everything" in everything.stderr
    typo = stack.secmon("silence", "add", "sevrity=high", "--comment", "oops")
    assert typo.returncode == 2 and "unknown label 'sevrity'" in typo.stderr
    missing = stack.secmon("silence", "expire", "nope")
    assert missing.returncode == 2 and "no silence with id 'nope'" in missing.stderr


async def _cache(prefix: str) -> silences.SilenceCache:
    cache = silences.SilenceCache()
    async with client(EsSettings(url=ES_URL)) as es:
        await cache.refresh(es, prefix)
    return cache


def _now() -> float:
    import time

    return time.time()


def test_a_silence_stored_before_records_were_versioned_still_mutes_after_an_upgrade(stack, es):
    """An index and a silence as the version before `schema_version` made them: the upgraded
    worker adds the new field to the index, reads the old silence as version 1, and stores new ones."""
    old_props = {k: v for k, v in mapping_of(silences.Silence).items() if k != "schema_version"}
    index = silences.index_name(stack.prefix)
    es.indices.create(index=index, mappings={"dynamic": "strict", "properties": old_props})
    old = silences.new_silence(['rule="signin_new_device"'], _at(-60), _at(3600), "alice", "CHG-1")
    es.index(index=index, id=old.id, document=_unversioned(old.to_doc()), refresh="wait_for")

    new = silences.new_silence(['workspace="ws-x"'], _at(-60), _at(3600), "bob", "CHG-2")
    asyncio.run(_add(stack.prefix, new))  # refused by the old strict mapping unless it was upgraded

    cache = asyncio.run(_cache(stack.prefix))
    assert {s.id: s.schema_version for s in cache.silences} == {old.id: 1, new.id: 1}
    assert cache.silenced_by(alert_labels(alert(rule="signin_new_device"), {}), _now()) == old.id


def test_notification_history_keeps_writing_into_an_index_an_older_template_made(stack, es):
    old_props = {k: v for k, v in mapping_of(NotificationRecord).items() if k != "schema_version"}
    record = NotificationRecord(
        timestamp=_at(0), kind="silenced", outcome="silenced", receiver="hook", receiver_kind="webhook",
        route="0", group_key="g", silence_id="s1", alert_ids=["a1"], alert_counts=[1], rule_ids=["r"],
    )  # fmt: skip
    old = history.action(stack.prefix, record)
    es.indices.create(index=old["_index"], mappings={"dynamic": "strict", "properties": old_props})
    es.index(index=old["_index"], id=old["_id"], document=_unversioned(record.to_doc()))

    async def upgrade_and_write() -> None:
        async with client(EsSettings(url=ES_URL)) as es_async:
            await history.install(es_async, stack.prefix)
            new = history.action(stack.prefix, record.model_copy(update={"silence_id": "s2"}))
            await es_async.index(index=new["_index"], id=new["_id"], document=new["_source"], refresh="wait_for")

    asyncio.run(upgrade_and_write())
    docs = [NotificationRecord.model_validate(h["_source"]) for h in es.search(index=old["_index"])["hits"]["hits"]]
    assert sorted((d.silence_id, d.schema_version) for d in docs) == [("s1", 1), ("s2", 1)]


async def _add(prefix: str, silence: silences.Silence) -> None:
    async with client(EsSettings(url=ES_URL)) as es:
        await silences.add(es, prefix, silence)


def _unversioned(doc: dict) -> dict:
    """A document as written before `schema_version` existed."""
    return {k: v for k, v in doc.items() if k != "schema_version"}


def _at(seconds: float):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)
