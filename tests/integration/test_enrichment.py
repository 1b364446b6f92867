"""GeoIP (.mmdb) and threat-intel enrichment through the real worker into the strict events index."""

from __future__ import annotations

import json

from tests.data.enrichment.build_mmdb import write_databases
from tests.integration.conftest import count, wait_for


def signin(ip: str, n: int) -> bytes:
    return json.dumps(
        {"timestamp": f"2026-11-30T08:00:{n:02d}Z", "user": f"u{n}@acme.example", "outcome": "success", "source_ip": ip}
    ).encode()


def test_worker_enriches_and_es_accepts_every_enrichment_field(stack, es):
    city, asn = write_databases(stack.workdir)
    feed = stack.workdir / "tor_exits.txt"
    feed.write_text("81.2.69.0/24  # listed for the test\n2a02:cf40::/32\n")
    ips = ["81.2.69.160", "2a02:cf40::1", "10.0.0.1", "203.0.113.9"]
    path = stack.workdir / "signins.jsonl"
    path.write_bytes(b"\n".join(signin(ip, n) for n, ip in enumerate(ips)) + b"\n")
    env = {
        "SECMON_ENRICH_GEOIP_CITY_DB": str(city),
        "SECMON_ENRICH_GEOIP_ASN_DB": str(asn),
        "SECMON_ENRICH_THREAT_INTEL": json.dumps([str(feed)]),
    }

    assert stack.secmon("topics").returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(path))
    assert shipped.returncode == 0, shipped.stderr
    stack.start("worker", log_name="worker", env=env)
    index = f"{stack.prefix}-events-*"
    wait_for(lambda: count(es, index) >= len(ips), timeout=180, what="enriched events indexed")

    docs = {hit["_source"]["source"]["ip"]: hit["_source"] for hit in es.search(index=index, size=10)["hits"]["hits"]}
    london = docs["81.2.69.160"]
    assert london["source"]["geo"]["city_name"] == "London" and london["source"]["as"]["number"] == 20712
    assert london["threat"]["enrichments"][0]["feed"]["name"] == "tor_exits"
    assert any(s.startswith("threat_intel@") for s in london["secmon"]["enrichment"])
    assert docs["2a02:cf40::1"]["threat"]["enrichments"][0]["indicator"]["type"] == "ipv6-addr"
    assert (
        docs["10.0.0.1"]["secmon"]["address_scope"]["source"] == "private" and "geo" not in docs["10.0.0.1"]["source"]
    )
    near = es.search(
        index=index, query={"geo_distance": {"distance": "50km", "source.geo.location": {"lat": 51.5, "lon": -0.1}}}
    )
    assert [h["_source"]["source"]["ip"] for h in near["hits"]["hits"]] == ["81.2.69.160"]

    def matches(*terms: tuple[str, str]) -> int:  # threat.enrichments is nested: conditions hold within one match
        must = [{"term": {f"threat.enrichments.{field}": value}} for field, value in terms]
        return es.count(
            index=index, query={"nested": {"path": "threat.enrichments", "query": {"bool": {"filter": must}}}}
        )["count"]

    assert matches(("feed.name", "tor_exits")) == 2
    assert matches(("feed.name", "tor_exits"), ("indicator.type", "ipv6-addr")) == 1
