"""Index templates on the real node: installing twice changes nothing, a new version upgrades."""

from __future__ import annotations

import asyncio

from pipeline.settings import EsSettings
from pipeline.sinks.elasticsearch import client, install_templates
from schemas.templates import TEMPLATES, template
from tests.integration.conftest import ES_URL


def install(prefix: str) -> list[str]:
    async def go() -> list[str]:
        async with client(EsSettings(url=ES_URL, index_prefix=prefix)) as es:
            return await install_templates(es, prefix)

    return asyncio.run(go())


def stored(es, name: str) -> dict:
    return es.indices.get_index_template(name=name)["index_templates"][0]["index_template"]


def test_install_twice_changes_nothing_and_a_changed_version_is_upgraded(stack, es):
    p = stack.prefix
    assert install(p) == [f"{p}-{kind}" for kind in TEMPLATES]
    for kind in TEMPLATES:
        assert stored(es, f"{p}-{kind}")["version"] == template(kind, p)["version"]
        # same version, plus a marker: a second install that rewrote the template would drop it
        body = {**template(kind, p), "_meta": {**template(kind, p)["_meta"], "marker": "first-install"}}
        es.indices.put_index_template(name=f"{p}-{kind}", **body)

    install(p)
    assert all(stored(es, f"{p}-{kind}")["_meta"].get("marker") == "first-install" for kind in TEMPLATES)

    # an older secmon left version 1 with a smaller mapping: the next start upgrades it, and only it
    es.indices.put_index_template(
        name=f"{p}-events",
        index_patterns=[f"{p}-events-*"],
        priority=200,
        version=1,
        template={"mappings": {"dynamic": "strict", "properties": {"@timestamp": {"type": "date"}}}},
    )
    install(p)
    upgraded = stored(es, f"{p}-events")
    assert upgraded["version"] == template("events", p)["version"] and "marker" not in upgraded["_meta"]
    assert stored(es, f"{p}-alerts")["_meta"]["marker"] == "first-install"

    es.indices.create(index=f"{p}-events-app.signin-2026.11.30")
    mapping = es.indices.get_mapping(index=f"{p}-events-app.signin-2026.11.30")[f"{p}-events-app.signin-2026.11.30"]
    assert mapping["mappings"]["dynamic"] == "strict"
    assert mapping["mappings"]["properties"]["source"]["properties"]["ip"] == {"type": "ip"}
    assert (
        f"{p}-events"
        in es.indices.get_alias(index=f"{p}-events-app.signin-2026.11.30")[f"{p}-events-app.signin-2026.11.30"][
            "aliases"
        ]
    )
