"""Check saved objects as Kibana's import would, and list every field they use (no Kibana needed).

`problems()` returns one line per offence (object id: what is wrong), all of them at once.
`field_uses()` lists (data view id, field, use) for every field a data view, Lens column, map layer,
saved search or KQL query names; the integration test checks them against `_field_caps`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ENVELOPE = ("type", "id", "attributes", "references")
TYPES = {"index-pattern", "search", "lens", "map", "visualization", "dashboard"}
GRID_COLUMNS = 48
KQL_FIELD = re.compile(r"(?<![\w.@])(@?[A-Za-z_][\w.@]*)\s*(?::|<=|>=|<|>)")
KQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class FieldUse:
    """One field a saved object relies on, and what for (picks the types it may have)."""

    view: str
    field: str
    use: str  # time, terms, date_histogram, numeric, unique_count, max, geo_point, query, column
    where: str


def _json(obj: dict[str, Any], text: str, what: str, out: list[str]) -> Any:
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        out.append(f"{obj.get('id')}: {what} is not JSON ({exc})")
        return None


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every offence against the import contract, as `<id>: <what is wrong>`."""
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        missing = [k for k in ENVELOPE if k not in obj]
        if missing:
            out.append(f"{obj.get('id')}: missing {', '.join(missing)}")
            continue
        if obj["type"] not in TYPES:
            out.append(f"{obj['id']}: unknown type {obj['type']!r}")
        if (obj["type"], obj["id"]) in seen:
            out.append(f"{obj['id']}: duplicate {obj['type']} id")
        seen.add((obj["type"], obj["id"]))
        if not obj["attributes"].get("title"):
            out.append(f"{obj['id']}: no title")
    for obj in objects:
        if all(k in obj for k in ENVELOPE):
            out += _references(obj, seen) + _shape(obj)
    return out


def _references(obj: dict[str, Any], known: set[tuple[str, str]]) -> list[str]:
    out = []
    names = [r["name"] for r in obj["references"]]
    if len(names) != len(set(names)):
        out.append(f"{obj['id']}: duplicate reference names")
    for ref in obj["references"]:
        if (ref["type"], ref["id"]) not in known:
            out.append(f"{obj['id']}: reference {ref['name']} to missing {ref['type']} {ref['id']}")
    return out


def _shape(obj: dict[str, Any]) -> list[str]:
    out: list[str] = []
    attrs, refs = obj["attributes"], {r["name"]: r for r in obj["references"]}
    if obj["type"] == "index-pattern" and attrs.get("timeFieldName") != "@timestamp":
        out.append(f"{obj['id']}: time field is {attrs.get('timeFieldName')!r}, not @timestamp")
    if obj["type"] == "dashboard":
        panels = _json(obj, attrs.get("panelsJSON"), "panelsJSON", out) or []
        for panel in panels:
            grid = panel.get("gridData", {})
            if grid.get("x", 0) < 0 or grid.get("x", 0) + grid.get("w", 0) > GRID_COLUMNS or grid.get("w", 0) < 1:
                out.append(f"{obj['id']}: panel {panel.get('panelIndex')} outside the {GRID_COLUMNS}-column grid")
            ref = refs.get(f"{panel.get('panelIndex')}:{panel.get('panelRefName')}")
            if ref is None or ref["type"] != panel.get("type"):
                out.append(f"{obj['id']}: panel {panel.get('panelIndex')} has no {panel.get('type')} reference")
        if len({p.get("panelIndex") for p in panels}) != len(panels):
            out.append(f"{obj['id']}: duplicate panelIndex")
        out += _overlaps(obj["id"], panels)
    if obj["type"] == "lens":
        layers = attrs["state"]["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            ref = refs.get(f"indexpattern-datasource-layer-{layer_id}")
            if ref is None or ref["type"] != "index-pattern":
                out.append(f"{obj['id']}: Lens layer {layer_id} references no data view")
            if set(layer["columnOrder"]) != set(layer["columns"]):
                out.append(f"{obj['id']}: Lens layer {layer_id} columnOrder does not match its columns")
    if obj["type"] == "map":
        for layer in _json(obj, attrs.get("layerListJSON"), "layerListJSON", out) or []:
            name = layer.get("sourceDescriptor", {}).get("indexPatternRefName")
            if name and (name not in refs or refs[name]["type"] != "index-pattern"):
                out.append(f"{obj['id']}: map layer {layer.get('id')} references no data view")
        _json(obj, attrs.get("mapStateJSON"), "mapStateJSON", out)
    if obj["type"] == "visualization":
        _json(obj, attrs.get("visState"), "visState", out)
    if obj["type"] in ("search", "visualization", "dashboard"):
        source = _json(obj, attrs["kibanaSavedObjectMeta"]["searchSourceJSON"], "searchSourceJSON", out) or {}
        name = source.get("indexRefName")
        if name and name not in refs:
            out.append(f"{obj['id']}: searchSourceJSON names missing reference {name}")
    return out


def _overlaps(oid: str, panels: list[dict[str, Any]]) -> list[str]:
    cells: dict[tuple[int, int], str] = {}
    out = []
    for p in panels:
        g = p.get("gridData", {})
        for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
            for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                if (x, y) in cells:
                    out.append(f"{oid}: panels {cells[(x, y)]} and {p['panelIndex']} overlap")
                    return out
                cells[(x, y)] = p["panelIndex"]
    return out


def kql_fields(kql: str) -> list[str]:
    """Field names a (simple) KQL query compares: `a.b : "x" and not c : *` -> [a.b, c]."""
    return KQL_FIELD.findall(KQL_STRING.sub('""', kql))


def field_uses(objects: list[dict[str, Any]]) -> list[FieldUse]:
    """Every field the objects use, with the data view it is read from."""
    return [use for obj in objects for use in _uses(obj)]


def _uses(obj: dict[str, Any]) -> Iterator[FieldUse]:
    attrs, oid = obj["attributes"], obj["id"]
    refs = {r["name"]: r["id"] for r in obj["references"]}
    if obj["type"] == "index-pattern":
        yield FieldUse(oid, attrs["timeFieldName"], "time", oid)
    elif obj["type"] == "search":
        view = refs["kibanaSavedObjectMeta.searchSourceJSON.index"]
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        yield from (FieldUse(view, f, "query", oid) for f in kql_fields(source["query"]["query"]))
        yield from (FieldUse(view, c, "column", oid) for c in attrs["columns"])
        yield from (FieldUse(view, s[0], "time", oid) for s in attrs["sort"])
    elif obj["type"] == "lens":
        state = attrs["state"]
        for layer_id, layer in state["datasourceStates"]["formBased"]["layers"].items():
            view = refs[f"indexpattern-datasource-layer-{layer_id}"]
            yield from (FieldUse(view, f, "query", oid) for f in kql_fields(state["query"]["query"]))
            for col in layer["columns"].values():
                if col["operationType"] != "count":
                    yield FieldUse(view, col["sourceField"], _use_of(col["operationType"]), oid)
                if "filter" in col:
                    yield from (FieldUse(view, f, "query", oid) for f in kql_fields(col["filter"]["query"]))
    elif obj["type"] == "map":
        for layer in json.loads(attrs["layerListJSON"]):
            src = layer["sourceDescriptor"]
            if "geoField" in src:
                view = refs[src["indexPatternRefName"]]
                yield FieldUse(view, src["geoField"], "geo_point", oid)
                yield from (FieldUse(view, f, "query", oid) for f in kql_fields(layer["query"]["query"]))


def _use_of(operation: str) -> str:
    return {
        "terms": "terms",
        "date_histogram": "date_histogram",
        "unique_count": "unique_count",
        "max": "max",
        "min": "max",
    }.get(operation, "numeric")


# field types each use accepts (Elasticsearch field_caps types)
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
ALLOWED: dict[str, set[str]] = {
    "time": {"date", "date_nanos"},
    "date_histogram": {"date", "date_nanos"},
    "terms": {"keyword", "constant_keyword", "ip", "boolean", "wildcard"} | NUMERIC,
    "unique_count": {"keyword", "ip", "boolean", "date"} | NUMERIC,
    "max": {"date"} | NUMERIC,
    "numeric": NUMERIC,
    "geo_point": {"geo_point"},
    "query": {"keyword", "ip", "boolean", "date", "text", "geo_point", "wildcard"} | NUMERIC,
    "column": {"keyword", "ip", "boolean", "date", "text", "wildcard"} | NUMERIC,
}
