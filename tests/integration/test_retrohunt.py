"""Retro-hunt against the real Elasticsearch node: a newly listed indicator finds past events."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from elasticsearch import AsyncElasticsearch

from pipeline.enrichers.threat_intel import ThreatIntel
from pipeline.retrohunt import hunt
from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import BulkSink, install_templates
from tests.factories import signin
from tests.integration.conftest import ES_URL


def test_new_indicator_finds_past_events(stack, tmp_path):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    events = [
        signin(**{"@timestamp": (now - timedelta(days=d)).isoformat(), "event.id": f"r{d}-{ip}", "source.ip": ip})
        for d in (1, 2, 3, 40)
        for ip in ("203.0.113.77", "198.51.100.5", "2001:db8:bad::9")
    ]
    feed = tmp_path / "tor_exits.txt"
    feed.write_text("# listed today\n203.0.113.0/24\n2001:db8:bad::/48\n")
    intel = ThreatIntel([feed])

    async def go():
        es = AsyncElasticsearch(ES_URL)
        try:
            cfg = EsSettings(url=ES_URL, index_prefix=stack.prefix)
            await install_templates(es, stack.prefix)
            sink = BulkSink(es, cfg)
            report = await sink.write(sink.event_actions(events), "event")
            assert report.created == len(events)
            await es.indices.refresh(index=f"{stack.prefix}-events-*")
            first = await hunt(es, stack.prefix, intel.index.indicators(), since=now - timedelta(days=30))
            again = await hunt(es, stack.prefix, intel.index.indicators(), since=now - timedelta(days=30))
            return first, again
        finally:
            await es.close()

    alerts, again = asyncio.run(go())
    by_ip = {a.source.ip: a for a in alerts}
    assert set(by_ip) == {"203.0.113.77", "2001:db8:bad::9"}  # 198.51.100.5 is not listed
    assert all(a.alert.count == 3 for a in alerts)  # the 40-day-old events are outside the window
    assert all(a.rule.id == "threat_intel_retro_match" for a in alerts)
    assert [a.alert.id for a in alerts] == [a.alert.id for a in again]  # deterministic: re-hunting updates
