"""Every example query of docs/queries.md runs on the real Elasticsearch node against secmon's own
templates and the sample data (normalized, enriched and detected as the pipeline does), and finds
something: a renamed field or a wrong type makes it fail here, not in an analyst's console."""

from __future__ import annotations

import json
import re

import pytest
from elasticsearch import helpers

from pipeline import embedded
from pipeline.enrichers.registry import default_enrichers
from pipeline.process import process_record
from pipeline.readers import read_records
from pipeline.settings import SecmonSettings
from pipeline.sinks.elasticsearch import alert_index, event_index
from schemas.templates import TEMPLATES, template
from tests.integration.conftest import ROOT

DOC = ROOT / "docs" / "queries.md"
SAMPLES = [str(ROOT / "examples" / "signin.jsonl"), str(ROOT / "tests/data/normalizers/staff_access/access.jsonl")]
BLOCK = re.compile(r"```console\n(GET|POST) (\S+)\n(.*?)```", re.S)


def examples() -> list[tuple[str, str, dict]]:
    """(title, path, body) of every console block, titled by the heading above it."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    for match in BLOCK.finditer(text):
        title = re.findall(r"^### (.+)$", text[: match.start()], re.M)[-1]
        out.append((title, match.group(2), json.loads(match.group(3))))
    return out


def _seed(es, prefix: str) -> tuple[int, int]:
    for kind in TEMPLATES:
        es.indices.put_index_template(name=f"{prefix}-{kind}", **template(kind, prefix))
    settings = SecmonSettings()
    enrichers, parse_options = default_enrichers(settings), settings.parse.options()
    actions = []
    for path in SAMPLES:
        normalizer = embedded.resolve_source(path, None)
        for record in read_records(path, normalizer, settings.parse.max_record_bytes):
            for event in process_record(record, normalizer, enrichers, parse_options).events:
                actions.append(
                    {
                        "_op_type": "create",
                        "_index": event_index(prefix, event),
                        "_id": event.event.id,
                        "_source": event.to_doc(),
                    }
                )
    alerts = embedded.run(SAMPLES, settings).alerts.values()
    actions += [
        {"_op_type": "index", "_index": alert_index(prefix, a), "_id": a.alert.id, "_source": a.to_doc()}
        for a in alerts
    ]
    ok, errors = helpers.bulk(es, actions, refresh="wait_for", raise_on_error=False)
    assert not errors, errors[:3]
    return len(actions) - len(alerts), len(alerts)


def _found(result: dict) -> int:
    if result["hits"]["total"]["value"] and result["hits"]["hits"]:
        return result["hits"]["total"]["value"]
    buckets = [b for agg in result.get("aggregations", {}).values() for b in agg.get("buckets", [])]
    return len(buckets)


def test_docs_have_examples():
    assert len(examples()) >= 10


def test_every_example_query_runs_and_finds_something(es, stack):
    events, alerts = _seed(es, stack.prefix)
    assert events > 80 and alerts > 5
    empty, failed = [], []
    for title, path, body in examples():
        index, endpoint = path.split("/", 1)
        assert endpoint == "_search" and index.startswith("secmon-"), f"{title}: {path}"
        try:
            result = es.search(index=stack.prefix + index.removeprefix("secmon"), **body)
        except Exception as exc:  # noqa: BLE001 - collect every failing example, then fail once
            failed.append(f"{title}: {exc}")
            continue
        if not _found(result):
            empty.append(title)
    assert not failed, failed
    assert not empty, f"examples that find nothing in the sample data: {empty}"


@pytest.mark.parametrize("title", ["Sign-ins of one user, newest first"])
def test_a_known_answer(es, stack, title):
    _seed(es, stack.prefix)
    ((_, path, body),) = [e for e in examples() if e[0] == title]
    result = es.search(index=stack.prefix + path.split("/")[0].removeprefix("secmon"), **body)
    users = {h["_source"]["user"]["name"] for h in result["hits"]["hits"]}
    assert users == {"bob@acme.example"}
    stamps = [h["_source"]["@timestamp"] for h in result["hits"]["hits"]]
    assert stamps == sorted(stamps, reverse=True)
