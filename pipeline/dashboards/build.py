"""Dashboard descriptions -> Kibana 9 saved objects (data views, Lens, maps, searches, dashboards).

Every id is derived from the index prefix and the description's keys, so a re-import overwrites
the same objects instead of adding copies. Panels are saved by reference: each Lens or map object
names its data view in `references`, and the dashboard references its panels.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pipeline.dashboards.model import Col, Dashboard, DataView, GeoMap, Lens, Markdown, Search
from schemas.templates import template

CORE_VERSION = "8.8.0"
# the shapes below are those of these migration versions; Kibana 9 migrates them on import
TYPE_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "10.2.0",
    "lens": "8.9.0",
    "map": "8.4.0",
    "visualization": "8.5.0",
    "dashboard": "10.2.0",
}
LAYER = "layer1"
DATA_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
SERIES = {"bar": "bar", "bar_stacked": "bar_stacked", "line": "line", "area_percentage": "area_percentage_stacked"}


# Lens data types of Elasticsearch field types
LENS_TYPES = {
    "keyword": "string",
    "ip": "ip",
    "boolean": "boolean",
    "date": "date",
    "long": "number",
    "double": "number",
    "geo_point": "geo_point",
    "text": "string",
    "flattened": "string",
}


@cache
def field_types(view: str) -> dict[str, str]:
    """Dotted field name -> Elasticsearch type, from the template of the view's index family."""
    from pipeline.delivery import history  # here: it imports the Elasticsearch client, which `secmon run` never needs

    body = history.template("secmon") if view == "notifications" else template(view)
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], path: str) -> None:
        for name, spec in props.items():
            if "properties" in spec:
                walk(spec["properties"], f"{path}{name}.")
            else:
                out[f"{path}{name}"] = spec["type"]

    walk(body["template"]["mappings"]["properties"], "")
    return out


def lens_type(view: str, field_name: str) -> str:
    """The Lens data type of a field; a field no template has is an error at build time."""
    types = field_types(view)
    if field_name not in types:
        raise ValueError(f"{field_name} is not a field of the {view} template; see schemas/generated/")
    return LENS_TYPES[types[field_name]]


def slug(text: str) -> str:
    """Lower-case id fragment of a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def view_id(prefix: str, key: str) -> str:
    """Id of a data view."""
    return f"{prefix}-dv-{key}"


def _obj(kind: str, oid: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": oid,
        "attributes": attributes,
        "references": references,
        "managed": False,
        "coreMigrationVersion": CORE_VERSION,
        "typeMigrationVersion": TYPE_VERSIONS[kind],
    }


def _ref(name: str, kind: str, oid: str) -> dict[str, str]:
    return {"name": name, "type": kind, "id": oid}


def _query(kql: str) -> dict[str, str]:
    return {"query": kql, "language": "kuery"}


def data_view(prefix: str, dv: DataView) -> dict[str, Any]:
    """The index-pattern object of one index family."""
    return _obj(
        "index-pattern",
        view_id(prefix, dv.key),
        {
            "title": f"{prefix}-{dv.pattern}",
            "name": f"{prefix} {dv.name}",
            "timeFieldName": "@timestamp",
            "allowNoIndex": True,
            "fieldAttrs": "{}",
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
        },
        [],
    )


def saved_search(prefix: str, s: Search) -> dict[str, Any]:
    """A Discover search: query, columns, newest first."""
    source = {"query": _query(s.kql), "filter": [], "indexRefName": DATA_REF}
    return _obj(
        "search",
        f"{prefix}-search-{s.key}",
        {
            "title": s.title,
            "description": s.description,
            "columns": list(s.columns),
            "sort": [["@timestamp", "desc"]],
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        [_ref(DATA_REF, "index-pattern", view_id(prefix, s.view))],
    )


def _column(view: str, col: Col, order_by: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "label": col.label or col.op,
        "customLabel": bool(col.label),
        "operationType": col.op,
        "isBucketed": col.bucketed,
    }
    if col.op == "date_histogram":
        out.update(
            dataType="date",
            scale="interval",
            sourceField=col.field,
            params={"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
        )
    elif col.op == "terms":
        order = {"type": "column", "columnId": order_by} if order_by else {"type": "alphabetical"}
        out.update(
            dataType=lens_type(view, col.field or ""),
            scale="ordinal",
            sourceField=col.field,
            params={
                "size": col.size,
                "orderBy": order,
                "orderDirection": "desc",
                "otherBucket": True,
                "missingBucket": False,
                "parentFormat": {"id": "terms"},
            },
        )
    elif col.op == "count":
        out.update(dataType="number", scale="ratio", sourceField="___records___", params={"emptyAsNull": True})
    elif col.op in ("max", "min"):
        dtype = lens_type(view, col.field or "")
        out.update(
            dataType=dtype,
            scale="interval" if dtype == "date" else "ratio",
            sourceField=col.field,
            params={"emptyAsNull": True},
        )
    else:
        lens_type(view, col.field or "")
        out.update(dataType="number", scale="ratio", sourceField=col.field, params={"emptyAsNull": True})
    if col.kql:
        out["filter"] = _query(col.kql)
    return out


def _visualization(lens: Lens, buckets: list[str], metrics: list[str]) -> tuple[str, dict[str, Any]]:
    base = {"layerId": LAYER, "layerType": "data"}
    if lens.kind == "metric":
        return "lnsMetric", {**base, "metricAccessor": metrics[0]}
    if lens.kind == "table":
        return "lnsDatatable", {**base, "columns": [{"columnId": c} for c in buckets + metrics]}
    if lens.kind == "donut":
        return "lnsPie", {
            "shape": "donut",
            "layers": [
                {
                    **base,
                    "primaryGroups": buckets,
                    "metrics": metrics,
                    "numberDisplay": "percent",
                    "categoryDisplay": "default",
                    "legendDisplay": "default",
                }
            ],
        }
    layer = {**base, "seriesType": SERIES[lens.kind], "xAccessor": buckets[0], "accessors": metrics}
    if len(buckets) > 1:
        layer["splitAccessor"] = buckets[1]
    return "lnsXY", {
        "preferredSeriesType": SERIES[lens.kind],
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "layers": [layer],
    }


def lens_object(prefix: str, oid: str, lens: Lens) -> dict[str, Any]:
    """A by-reference Lens visualization with one form-based layer on its data view."""
    bucket_ids = [f"b{i}" for i in range(len(lens.buckets))]
    metric_ids = [f"m{i}" for i in range(len(lens.metrics))]
    columns = {mid: _column(lens.view, col, None) for mid, col in zip(metric_ids, lens.metrics, strict=True)}
    columns.update(
        {bid: _column(lens.view, col, metric_ids[0]) for bid, col in zip(bucket_ids, lens.buckets, strict=True)}
    )
    vis_type, visualization = _visualization(lens, bucket_ids, metric_ids)
    layer = {"columns": columns, "columnOrder": bucket_ids + metric_ids, "incompleteColumns": {}}
    state = {
        "datasourceStates": {"formBased": {"layers": {LAYER: layer}}},
        "visualization": visualization,
        "query": _query(lens.kql),
        "filters": [],
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return _obj(
        "lens",
        oid,
        {"title": lens.title, "description": lens.description, "visualizationType": vis_type, "state": state},
        [_ref(f"indexpattern-datasource-layer-{LAYER}", "index-pattern", view_id(prefix, lens.view))],
    )


def map_object(prefix: str, oid: str, geo: GeoMap) -> dict[str, Any]:
    """A Kibana map: the default basemap and a grid of counts on the geo_point field."""
    layers = [
        {
            "id": "basemap",
            "type": "EMS_VECTOR_TILE",
            "label": None,
            "visible": True,
            "alpha": 1,
            "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True, "lightModeDefault": "road_map_desaturated"},
            "style": {"type": "EMS_VECTOR_TILE"},
            "includeInFitToBounds": True,
        },
        {
            "id": "grid",
            "type": "GEOJSON_VECTOR",
            "label": geo.title,
            "visible": True,
            "alpha": 0.75,
            "sourceDescriptor": {
                "type": "ES_GEO_GRID",
                "id": f"{oid}-source",
                "geoField": geo.geo_field,
                "requestType": "point",
                "resolution": "COARSE",
                "metrics": [{"type": "count"}],
                "applyGlobalQuery": True,
                "applyGlobalTime": True,
                "indexPatternRefName": "layer_1_source_index_pattern",
            },
            "query": _query(geo.kql),
            "style": {"type": "VECTOR", "properties": {}},
            "joins": [],
            "includeInFitToBounds": True,
        },
    ]
    state = {
        "zoom": 1.4,
        "center": {"lon": 10, "lat": 25},
        "query": _query(""),
        "filters": [],
        "settings": {"autoFitToDataBounds": False},
    }
    return _obj(
        "map",
        oid,
        {
            "title": geo.title,
            "description": geo.description,
            "layerListJSON": json.dumps(layers),
            "mapStateJSON": json.dumps(state),
            "uiStateJSON": json.dumps({"isLayerTOCOpen": False}),
        },
        [_ref("layer_1_source_index_pattern", "index-pattern", view_id(prefix, geo.view))],
    )


def markdown_object(oid: str, md: Markdown) -> dict[str, Any]:
    """A legacy visualization of type markdown (Kibana 9 still imports and renders it)."""
    vis = {
        "title": md.title,
        "type": "markdown",
        "aggs": [],
        "params": {"fontSize": 12, "openLinksInNewTab": False, "markdown": md.text},
    }
    source = {"query": _query(""), "filter": []}
    return _obj(
        "visualization",
        oid,
        {
            "title": md.title,
            "description": "",
            "visState": json.dumps(vis),
            "uiStateJSON": "{}",
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        [],
    )


def _panel_object(prefix: str, dash: Dashboard, panel) -> dict[str, Any]:
    if isinstance(panel, Search):
        return saved_search(prefix, panel)
    oid = f"{prefix}-{dash.key}-{slug(panel.title)}"
    if isinstance(panel, Lens):
        return lens_object(prefix, oid, panel)
    if isinstance(panel, GeoMap):
        return map_object(prefix, oid, panel)
    return markdown_object(oid, panel)


def layout(panels) -> list[tuple[int, int]]:
    """(x, y) of each panel: left to right, a new row when the next one does not fit in 48 columns."""
    places, x, y, row_h = [], 0, 0, 0
    for p in panels:
        if x + p.w > 48:
            x, y, row_h = 0, y + row_h, 0
        places.append((x, y))
        x, row_h = x + p.w, max(row_h, p.h)
    return places


def dashboard(prefix: str, dash: Dashboard) -> list[dict[str, Any]]:
    """The dashboard object preceded by the objects of its panels (data views come separately)."""
    objects, panels, refs = [], [], []
    for n, (panel, (x, y)) in enumerate(zip(dash.panels, layout(dash.panels), strict=True), start=1):
        obj = _panel_object(prefix, dash, panel)
        pid = f"p{n}"
        if not isinstance(panel, Search):  # saved searches are shared: they come with the data views
            objects.append(obj)
        panels.append(
            {
                "type": obj["type"],
                "panelIndex": pid,
                "panelRefName": f"panel_{pid}",
                "gridData": {"x": x, "y": y, "w": panel.w, "h": panel.h, "i": pid},
                "embeddableConfig": {"enhancements": {}},
            }
        )
        refs.append(_ref(f"{pid}:panel_{pid}", obj["type"], obj["id"]))
    source = {"query": _query(""), "filter": []}
    attrs = {
        "title": dash.title,
        "description": dash.description,
        "panelsJSON": json.dumps(panels),
        "optionsJSON": json.dumps(
            {
                "useMargins": True,
                "syncColors": False,
                "syncCursor": True,
                "syncTooltips": False,
                "hidePanelTitles": False,
            }
        ),
        "timeRestore": True,
        "timeFrom": dash.time_from,
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
    }
    objects.append(_obj("dashboard", f"{prefix}-dashboard-{dash.key}", attrs, refs))
    return objects
