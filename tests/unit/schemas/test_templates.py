"""The committed index templates are exactly what the models generate."""

from __future__ import annotations

import json

from schemas.templates import GENERATED, TEMPLATES, template


def test_generated_templates_are_fresh():
    stale = [
        name for name in TEMPLATES if json.loads((GENERATED / f"{name}.template.json").read_text()) != template(name)
    ]
    assert not stale, f"stale templates {stale}: run `python -m schemas.templates` and commit the result"


def test_mappings_are_strict_and_typed():
    events = template("events")["template"]["mappings"]
    assert events["dynamic"] == "strict"
    props = events["properties"]
    assert props["@timestamp"] == {"type": "date"}
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["source"]["properties"]["geo"]["properties"]["location"] == {"type": "geo_point"}
    assert props["source"]["properties"]["as"]["properties"]["number"] == {"type": "long"}
    assert props["message"] == {"type": "text"}
    assert props["related"]["properties"]["user"]["type"] == "keyword"
