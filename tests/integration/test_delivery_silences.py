"""`secmon silence add|list|expire` against the real Elasticsearch node."""

from __future__ import annotations

import asyncio

from pipeline.delivery import silences
from pipeline.delivery.routing import alert_labels
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import client
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
