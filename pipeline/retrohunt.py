"""Retro-hunt: when an indicator is newly listed, search recent history in Elasticsearch for it.

Matching future events is the threat-intel enricher's job; this finds the past ones. Each
(indicator, address) pair with hits becomes one alert of rule `threat_intel_retro_match`, with
a deterministic id, so hunting the same indicator twice updates the alert instead of doubling it.
The worker runs it when the lists reload with new indicators; `secmon intel retrohunt` on demand.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pipeline.enrichers.threat_feeds import Indicator
from pipeline.enrichers.threat_intel import ThreatIntel
from schemas.alert import Alert, AlertProvenance, AlertState, Rule
from schemas.event import Endpoint
from schemas.ids import alert_id

if TYPE_CHECKING:  # the client is a large import that `secmon run`, which parses this module's options, never needs
    from elasticsearch import AsyncElasticsearch

log = logging.getLogger(__name__)
RULE = Rule(
    id="threat_intel_retro_match",
    name="Past activity of a newly listed indicator",
    version=1,
    maturity="stable",
    tags=["attack.command_and_control", "policy.threat_intel"],
)
MAX_HITS_PER_INDICATOR = 1000


def indicator_query(indicator: Indicator, since: datetime) -> dict[str, Any]:
    """Events since `since` whose source or destination address lies in the indicator's block."""
    return {
        "bool": {
            "filter": [{"range": {"@timestamp": {"gte": since.isoformat()}}}],
            "should": [{"term": {"source.ip": indicator.name}}, {"term": {"destination.ip": indicator.name}}],
            "minimum_should_match": 1,
        }
    }


async def hunt(
    es: AsyncElasticsearch, index_prefix: str, indicators: Iterable[Indicator], since: datetime, severity: str = "high"
) -> list[Alert]:
    """One alert per (indicator, matching address) found in events since `since`."""
    alerts: list[Alert] = []
    for indicator in sorted(indicators, key=lambda i: (i.feed, i.name)):
        result = await es.options(ignore_status=404).search(
            index=f"{index_prefix}-events-*",
            query=indicator_query(indicator, since),
            size=MAX_HITS_PER_INDICATOR,
            sort=[{"@timestamp": "asc"}],
            source_includes=["@timestamp", "event.id", "event.dataset", "source.ip", "destination.ip"],
        )
        hits = result.get("hits", {}).get("hits", []) if result else []
        alerts += _alerts_for(indicator, hits, severity)
    return alerts


def _alerts_for(indicator: Indicator, hits: list[dict[str, Any]], severity: str) -> list[Alert]:
    by_ip: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        doc = hit["_source"]
        for side in ("source", "destination"):
            ip = (doc.get(side) or {}).get("ip")
            if ip is not None and _in_block(ip, indicator):
                by_ip.setdefault(ip, []).append(doc)
    return [_alert(indicator, ip, docs, severity) for ip, docs in sorted(by_ip.items())]


def _in_block(ip: str, indicator: Indicator) -> bool:
    from ipaddress import ip_address, ip_network

    try:
        return ip_address(ip) in ip_network(indicator.name, strict=False)
    except ValueError:
        return False


def _alert(indicator: Indicator, ip: str, docs: list[dict[str, Any]], severity: str) -> Alert:
    first = datetime.fromisoformat(docs[0]["@timestamp"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(docs[-1]["@timestamp"].replace("Z", "+00:00"))
    dedup_key = f"{indicator.feed}|{indicator.name}|{ip}"
    return Alert(
        timestamp=last,
        message=(
            f"{len(docs)} past event(s) involve {ip}, which the list {indicator.feed!r} now names "
            f"({indicator.name}{': ' + indicator.description if indicator.description else ''})"
        ),
        rule=RULE,
        alert=AlertState(
            id=alert_id(RULE.id, dedup_key, first.astimezone(timezone.utc).isoformat()),
            severity=severity,
            dedup_key=dedup_key,
            count=len(docs),
            first_seen=first,
            last_seen=last,
        ),
        source=Endpoint(ip=ip),
        secmon=AlertProvenance(
            event_ids=[d["event"]["id"] for d in docs][-100:],
            event_count=len(docs),
            datasets=sorted({d["event"]["dataset"] for d in docs}),
        ),
    )


def register(subparsers) -> None:
    """`secmon intel retrohunt`: search history for every indicator of the configured lists."""
    intel = subparsers.add_parser("intel", help="threat-intel tools")
    isub = intel.add_subparsers(title="intel commands")
    retro = isub.add_parser("retrohunt", help="search recent events in Elasticsearch for listed indicators")
    retro.add_argument("--days", type=int, default=30, help="how far back to search (default 30)")
    retro.add_argument("--index", action="store_true", help="also write the alerts to the alerts index")
    retro.set_defaults(func=_cmd_retrohunt)


def _cmd_retrohunt(args: argparse.Namespace, settings) -> int:
    import json

    from pipeline.sinks.elasticsearch import BulkSink, client

    if not settings.enrich.threat_intel:
        raise ValueError("no threat-intel lists configured; set enrich.threat_intel (SECMON_ENRICH_THREAT_INTEL)")
    intel = ThreatIntel(settings.enrich.threat_intel)

    async def go() -> list[Alert]:
        async with client(settings.es) as es:
            since = datetime.now(timezone.utc) - timedelta(days=args.days)
            alerts = await hunt(es, settings.es.index_prefix, intel.index.indicators(), since)
            if args.index and alerts:
                sink = BulkSink(es, settings.es)
                await sink.write(sink.alert_actions(alerts), "alert")
            return alerts

    alerts = asyncio.run(go())
    for alert in alerts:
        print(json.dumps(alert.to_doc(), sort_keys=True))
    log.info("retro-hunt: %d alert(s) over %d indicator(s)", len(alerts), len(intel.index.indicators()))
    return 0
