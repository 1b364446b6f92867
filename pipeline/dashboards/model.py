"""The small vocabulary a dashboard is described in: data views, columns, panels, dashboards.

A dashboard module declares panels as these frozen dataclasses; `build.py` turns them into Kibana 9
saved objects. Nothing here knows Kibana's JSON shapes, so a description reads like the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Op = Literal["count", "terms", "date_histogram", "unique_count", "average", "max", "min", "sum", "median"]
LensKind = Literal["bar", "bar_stacked", "line", "area_percentage", "metric", "table", "donut"]


@dataclass(frozen=True)
class DataView:
    """One index family: `<prefix>-<pattern>` with `@timestamp` as time field."""

    key: str
    pattern: str
    name: str


@dataclass(frozen=True)
class Col:
    """A Lens column: a bucket (terms, date_histogram) or a metric, optionally filtered by KQL."""

    op: Op
    field: str | None = None
    label: str | None = None
    size: int = 10
    kql: str | None = None

    @property
    def bucketed(self) -> bool:
        return self.op in ("terms", "date_histogram")


def count(label: str = "Count", kql: str | None = None) -> Col:
    """Count of documents."""
    return Col("count", label=label, kql=kql)


def top(field_name: str, size: int = 10, label: str | None = None) -> Col:
    """Top values of a keyword-like field."""
    return Col("terms", field_name, label or field_name, size)


def over_time(field_name: str = "@timestamp") -> Col:
    """Date histogram (auto interval)."""
    return Col("date_histogram", field_name, field_name)


@dataclass(frozen=True)
class Lens:
    """A Lens visualization over one data view: buckets (x/split, groups or rows) and metrics."""

    title: str
    kind: LensKind
    view: str
    metrics: tuple[Col, ...]
    buckets: tuple[Col, ...] = ()
    kql: str = ""
    w: int = 24
    h: int = 12
    description: str = ""


@dataclass(frozen=True)
class GeoMap:
    """A Kibana Maps panel: a grid of document counts on a geo_point field."""

    title: str
    view: str
    geo_field: str
    kql: str = ""
    w: int = 24
    h: int = 16
    description: str = ""


@dataclass(frozen=True)
class Markdown:
    """A text panel (how to read the dashboard, or PromQL for what only Prometheus holds)."""

    title: str
    text: str
    w: int = 24
    h: int = 8


@dataclass(frozen=True)
class Search:
    """A saved search: a hunt analysts open in Discover; also usable as a dashboard panel."""

    key: str
    title: str
    view: str
    kql: str
    columns: tuple[str, ...]
    description: str = ""
    w: int = 48
    h: int = 14


Panel = Lens | GeoMap | Markdown | Search


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: panels laid out left to right in rows of 48 grid columns."""

    key: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    time_from: str = "now-24h"
    tags: tuple[str, ...] = field(default_factory=tuple)
