"""Elasticsearch index templates generated from the pydantic models (never written by hand).

`python -m schemas.templates` rewrites `schemas/generated/*.json`; a test fails when they are stale.
Mappings are `dynamic: strict`: a document with a field the schema does not know is rejected,
so untrusted input can never add fields to an index.
"""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.event import Event, GeoPoint
from schemas.lifecycle import AuditRecord, DeletionReceipt, LegalHold
from schemas.types import EsNested, EsType

GENERATED = Path(__file__).parent / "generated"
SCALARS: dict[type, dict[str, Any]] = {
    str: {"type": "keyword", "ignore_above": 1024},
    int: {"type": "long"},
    float: {"type": "double"},
    bool: {"type": "boolean"},
    datetime: {"type": "date"},
}
# name -> (model, index pattern suffix, extra settings)
TEMPLATES: dict[str, tuple[type[BaseModel], str]] = {
    "events": (Event, "events-*"),
    "alerts": (Alert, "alerts-*"),
    "deadletter": (DeadLetter, "deadletter-*"),
    "audit": (AuditRecord, "audit-*"),
    "receipts": (DeletionReceipt, "receipts-*"),
    "holds": (LegalHold, "holds-*"),
}


def mapping_of(model: type[BaseModel]) -> dict[str, Any]:
    """The `properties` mapping of a model, field by field."""
    props = {}
    for name, info in model.model_fields.items():
        props[info.alias or name] = _field_mapping(info.annotation, list(info.metadata))
    return props


def _field_mapping(annotation: Any, metadata: list[Any]) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return _field_mapping(base, metadata + list(extra))
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return _field_mapping(inner, metadata)
    if origin in (list, tuple, set, frozenset):
        inner = _field_mapping(get_args(annotation)[0], [m for m in metadata if not isinstance(m, EsNested)])
        return {"type": "nested", **inner} if any(isinstance(m, EsNested) for m in metadata) else inner
    for item in metadata:
        if isinstance(item, EsType):
            out: dict[str, Any] = {"type": item.type}
            if item.ignore_above:
                out["ignore_above"] = item.ignore_above
            if not item.index:
                out.update(index=False, doc_values=False)
            return out
    if annotation is GeoPoint:
        return {"type": "geo_point"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"properties": mapping_of(annotation)}
    if origin is Literal:
        return {"type": "keyword"}
    if origin is dict:
        return {"type": "flattened"}
    return dict(SCALARS[annotation])


def template(name: str, prefix: str = "secmon") -> dict[str, Any]:
    """The composable index template body for one kind of index."""
    model, pattern = TEMPLATES[name]
    return {
        "index_patterns": [f"{prefix}-{pattern}"],
        "priority": 200,
        "version": _version(model),
        "_meta": {"generated_from": f"{model.__module__}.{model.__name__}", "managed_by": "secmon"},
        "template": {
            "aliases": {f"{prefix}-{name}": {}},
            "settings": {
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",
                "refresh_interval": "1s",
                "mapping.total_fields.limit": 2000,
            },
            "mappings": {"dynamic": "strict", "date_detection": False, "properties": mapping_of(model)},
        },
    }


def _version(model: type[BaseModel]) -> int:
    """A stable number derived from the mapping, so an upgrade is detected by comparison."""
    import hashlib

    digest = hashlib.sha256(json.dumps(mapping_of(model), sort_keys=True).encode()).hexdigest()
    return int(digest[:7], 16)


def write_generated(directory: Path = GENERATED) -> list[Path]:
    """Write every template as JSON under `directory`; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TEMPLATES:
        path = directory / f"{name}.template.json"
        path.write_text(json.dumps(template(name), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_generated():
        print(written, file=sys.stderr)
