"""Every field a data view, panel or saved search uses exists in the real index templates, with a type
that suits its use (no terms on text, date histograms on dates, geo_point for the map): checked with
`_field_caps` of indices created from secmon's own templates on the real Elasticsearch node."""

from __future__ import annotations

import copy
from collections import defaultdict

from pipeline.dashboards import objects
from pipeline.dashboards.check import ALLOWED, field_uses
from pipeline.delivery import history
from schemas.templates import TEMPLATES, template

DAY = "2026.01.01"
FIRST_INDEX = {
    "events": f"events-app.signin-{DAY}",
    "alerts": f"alerts-{DAY}",
    "deadletter": f"deadletter-{DAY}",
    "audit": "audit-000001",
    "receipts": "receipts-000001",
    "holds": "holds-000001",
    "notifications": f"notifications-{DAY}",
}


def _install(es, prefix: str) -> None:
    for kind in TEMPLATES:
        es.indices.put_index_template(name=f"{prefix}-{kind}", **template(kind, prefix))
    es.indices.put_index_template(name=f"{prefix}-notifications", **history.template(prefix))
    for suffix in FIRST_INDEX.values():
        es.indices.create(index=f"{prefix}-{suffix}")


def _wrong(es, objs) -> tuple[list[str], list]:
    patterns = {o["id"]: o["attributes"]["title"] for o in objs if o["type"] == "index-pattern"}
    uses = field_uses(objs)
    caps = {view: es.field_caps(index=pattern, fields="*")["fields"] for view, pattern in patterns.items()}
    wrong = []
    for use in uses:
        found = caps[use.view].get(use.field)
        if not found:
            wrong.append(f"{use.where}: {use.field} is not a field of {patterns[use.view]}")
            continue
        types = set(found) - {"unmapped"}
        if not types <= ALLOWED[use.use]:
            wrong.append(f"{use.where}: {use.field} is {sorted(types)}, unfit for {use.use}")
        elif use.use not in ("query", "column") and not all(found[t].get("aggregatable") for t in types):
            wrong.append(f"{use.where}: {use.field} is not aggregatable, needed for {use.use}")
    return wrong, uses


def test_every_used_field_exists_with_a_suitable_type(es, stack):
    _install(es, stack.prefix)
    objs = objects(stack.prefix)
    wrong, uses = _wrong(es, objs)
    assert not wrong, "\n".join(wrong)
    per_use = defaultdict(set)
    for use in uses:
        per_use[use.use].add((use.view, use.field))
    views = sum(1 for o in objs if o["type"] == "index-pattern")
    print(
        f"checked {len(uses)} field uses ({len({(u.view, u.field) for u in uses})} distinct fields) in "
        f"{views} data views: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(per_use.items()))
    )
    assert per_use["geo_point"] and per_use["date_histogram"] and per_use["terms"]


def test_the_check_refuses_wrong_fields_and_types(es, stack):
    _install(es, stack.prefix)
    objs = copy.deepcopy(objects(stack.prefix))
    lens = next(o for o in objs if o["type"] == "lens" and o["attributes"]["visualizationType"] == "lnsXY")
    columns = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]["columns"]
    columns["b0"]["sourceField"] = "message"  # a date histogram on text
    columns["b1"]["sourceField"] = "alert.no_such_field"
    geo = next(o for o in objs if o["type"] == "map")
    geo["attributes"]["layerListJSON"] = geo["attributes"]["layerListJSON"].replace("source.geo.location", "source.ip")
    wrong, _ = _wrong(es, objs)
    assert any("message is ['text'], unfit for date_histogram" in w for w in wrong), wrong
    assert any("alert.no_such_field is not a field" in w for w in wrong), wrong
    assert any("source.ip is ['ip'], unfit for geo_point" in w for w in wrong), wrong
    assert len(wrong) == 3, wrong
