"""The committed saved objects are fresh and pass the checks Kibana's import makes."""

from __future__ import annotations

import copy
import json

import pytest

from pipeline.dashboards import DASHBOARDS, OUT, ndjson, objects, render
from pipeline.dashboards.check import field_uses, kql_fields, problems


def test_committed_ndjson_is_fresh():
    expected = {f"{stem}.ndjson": ndjson(objs) for stem, objs in render().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in OUT.glob("*.ndjson")}
    stale = sorted(name for name in expected.keys() | committed.keys() if expected.get(name) != committed.get(name))
    assert not stale, f"stale or extra files {stale}: run `python -m pipeline.dashboards` and commit the result"


def test_every_object_passes_the_import_checks():
    assert problems(objects()) == []


def test_six_dashboards_with_their_panels():
    dashboards = [o for o in objects() if o["type"] == "dashboard"]
    assert {d["attributes"]["title"] for d in dashboards} == {d.title for d in DASHBOARDS}
    assert len(dashboards) == 6
    for dash in dashboards:
        panels = json.loads(dash["attributes"]["panelsJSON"])
        assert len(panels) == len(dash["references"]) >= 5


def test_signins_has_a_geo_point_map():
    maps = [u for u in field_uses(objects()) if u.use == "geo_point"]
    assert [(u.view, u.field) for u in maps] == [("secmon-dv-events", "source.geo.location")]


def test_the_prefix_goes_into_every_id_and_pattern():
    other = objects("acme")
    assert all(o["id"].startswith("acme-") for o in other)
    titles = [o["attributes"]["title"] for o in other if o["type"] == "index-pattern"]
    assert titles and all(t.startswith("acme-") for t in titles)
    assert problems(other) == []


def test_kql_fields():
    assert kql_fields('a.b : "x:y" and not c : * or (d >= 3 and @timestamp < "now")') == ["a.b", "c", "d", "@timestamp"]


def _broken(mutate) -> list[str]:
    objs = copy.deepcopy(objects())
    mutate(objs)
    return problems(objs)


def _first(objs, kind):
    return next(o for o in objs if o["type"] == kind)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda objs: objs.append(copy.deepcopy(objs[0])), "duplicate index-pattern id"),
        (lambda objs: objs.remove(_first(objs, "index-pattern")), "to missing index-pattern"),
        (lambda objs: _first(objs, "lens")["references"].clear(), "references no data view"),
        (lambda objs: _first(objs, "dashboard")["attributes"].update(panelsJSON="[{"), "panelsJSON is not JSON"),
        (
            lambda objs: _first(objs, "dashboard")["attributes"].update(
                panelsJSON=json.dumps(
                    [
                        {**p, "gridData": {**p["gridData"], "x": 40, "w": 12}}
                        for p in json.loads(_first(objs, "dashboard")["attributes"]["panelsJSON"])
                    ][:1]
                )
            ),
            "outside the 48-column grid",
        ),
        (
            lambda objs: _first(objs, "map")["attributes"].update(
                layerListJSON=json.dumps([{"id": "x", "sourceDescriptor": {"indexPatternRefName": "nope"}}])
            ),
            "map layer x references no data view",
        ),
        (lambda objs: _first(objs, "index-pattern")["attributes"].update(timeFieldName="ts"), "not @timestamp"),
        (lambda objs: _first(objs, "search").pop("references"), "missing references"),
    ],
)
def test_the_checks_catch_what_import_would_refuse(mutate, expected):
    found = _broken(mutate)
    assert any(expected in p for p in found), found


def test_a_field_no_template_has_fails_the_build():
    from pipeline.dashboards.build import lens_object, lens_type
    from pipeline.dashboards.model import Lens, count, top

    assert (lens_type("events", "source.ip"), lens_type("notifications", "status_code")) == ("ip", "number")
    with pytest.raises(ValueError, match="user.nmae is not a field of the events template"):
        lens_object("secmon", "x", Lens("typo", "table", "events", (count(),), (top("user.nmae"),)))


def test_docs_figures_match_the_objects():
    from collections import Counter

    from pipeline.dashboards import ROOT

    text = " ".join((ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8").split())
    kinds = Counter(o["type"] for o in objects())
    panels = sum(len(d.panels) for d in DASHBOARDS)
    expected = (
        f"{kinds['index-pattern']} data views",
        f"{kinds['search']} saved searches",
        f"{kinds['dashboard']} dashboards with {panels} panels",
        f"{kinds['lens']} Lens visualizations",
        f"{kinds['map']} map",
        f"{kinds['visualization']} text panels",
        f"{sum(kinds.values())} objects in all",
    )
    missing = [e for e in expected if e not in text]
    assert not missing, f"docs/dashboards.md says other figures; update it: {missing}"
