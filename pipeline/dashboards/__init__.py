"""Kibana saved objects as data: one module per dashboard, rendered by `build.py`.

`python -m pipeline.dashboards` (`__main__.py`) rewrites `dashboards/*.ndjson`; a test fails when they are stale.
`secmon dashboards import|export` talks to Kibana's saved-objects API (`kibana.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.dashboards import build, compliance, health, notifications, overview, signins, staff
from pipeline.dashboards.model import Dashboard
from pipeline.dashboards.views import SEARCHES, VIEWS

DASHBOARDS: tuple[Dashboard, ...] = (
    overview.DASHBOARD,
    signins.DASHBOARD,
    staff.DASHBOARD,
    compliance.DASHBOARD,
    notifications.DASHBOARD,
    health.DASHBOARD,
)
ROOT = Path(__file__).parents[2]
OUT = ROOT / "dashboards"
SHARED = "data-views"  # file of the data views and saved searches, imported first


def render(prefix: str = "secmon") -> dict[str, list[dict[str, Any]]]:
    """File stem -> saved objects: the data views and searches first, then one file per dashboard."""
    shared = [build.data_view(prefix, v) for v in VIEWS] + [build.saved_search(prefix, s) for s in SEARCHES]
    return {SHARED: shared, **{d.key: build.dashboard(prefix, d) for d in DASHBOARDS}}


def objects(prefix: str = "secmon") -> list[dict[str, Any]]:
    """Every saved object, in import order."""
    return [obj for objs in render(prefix).values() for obj in objs]


def ndjson(objs: list[dict[str, Any]]) -> str:
    """One JSON object per line, as Kibana's export writes and its import reads."""
    return "".join(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n" for o in objs)


def write(directory: Path = OUT) -> list[Path]:
    """Write every file of `render()` under directory; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, objs in render().items():
        path = directory / f"{stem}.ndjson"
        path.write_text(ndjson(objs), encoding="utf-8")
        paths.append(path)
    return paths
