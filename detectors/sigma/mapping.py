"""Sigma logsources -> secmon datasets, and Sigma field names -> secmon's fields, as pySigma pipelines.

Each `Source` row says which events a logsource means and how its field names map. CloudTrail
rules use CloudTrail's own names (`eventName`, `userIdentity.arn`...), so they need no mapping:
they read the raw record (`event.original`, see `view`). The other rows map the Sigma taxonomy
(W3C web names, Zeek names) to ECS; a rule naming a field secmon does not have is skipped with
that field named. `product: secmon, service: <dataset>` reads any secmon dataset by ECS names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, ValueListPlaceholderTransformation

from detectors.sigma.strings import Unsupported
from schemas.event import Event

Logsource = tuple[str | None, str | None, str | None]  # (category, product, service)
DATASET_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

WEB = {  # W3C extended log names of SigmaHQ's webserver taxonomy
    "c-ip": "source.ip",
    "cs-username": "user.name",
    "cs-method": "http.request.method",
    # SigmaHQ's webserver rules match paths in cs-uri-query ('.../mgmt/tm/util/bash'): the whole URI
    "cs-uri-query": "url.original",
    "cs-uri": "url.original",
    "cs-uri-stem": "url.path",
    "sc-status": "http.response.status_code",
    "cs-user-agent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-host": "url.domain",
    "cs-version": "http.version",
    "sc-bytes": "http.response.body.bytes",
    "dst_ip": "destination.ip",
    "dst_port": "destination.port",
}
ZEEK_SSL = {
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
    "server_name": "destination.domain",
    "cipher": "tls.cipher",
    "established": "tls.established",
    "subject": "tls.server.subject",
    "issuer": "tls.server.issuer",
}
SYSLOG = {"host": "host.name", "hostname": "host.name", "pid": "process.pid", "user": "user.name"}


@dataclass(frozen=True)
class Source:
    """One logsource secmon reads: the datasets it means, and its field names there (None: the raw record's)."""

    logsource: Logsource
    datasets: tuple[str, ...]
    fields: dict[str, str] | None = field(default_factory=dict)

    @property
    def raw(self) -> bool:
        """Rules of this source match the raw record's own fields."""
        return self.fields is None

    def describe(self) -> str:
        return describe(self.logsource)


SOURCES: tuple[Source, ...] = (
    Source((None, "aws", "cloudtrail"), ("aws.cloudtrail",), None),
    Source((None, "linux", "sshd"), ("ssh.auth",), SYSLOG),
    Source((None, "linux", None), ("ssh.auth",), SYSLOG),  # SigmaHQ's builtin keyword rules over any syslog
    Source(("webserver", None, None), ("web.access",), WEB),
    Source((None, None, "apache"), ("web.access",), WEB),
    Source((None, None, "nginx"), ("web.access",), WEB),
    Source((None, "zeek", "ssl"), ("zeek.ssl",), ZEEK_SSL),
)


def describe(logsource: Logsource) -> str:
    """`category=webserver product=... service=...` for messages."""
    names = ("category", "product", "service")
    return " ".join(f"{n}={v}" for n, v in zip(names, logsource, strict=True) if v is not None) or "no logsource"


def source_for(logsource: Logsource) -> Source:
    """The row for a rule's logsource (exactly its category/product/service), or Unsupported."""
    category, product, service = logsource
    if product == "secmon" and category is None and service and DATASET_NAME.match(service):
        return Source(logsource, (service,), {})
    for source in SOURCES:
        if source.logsource == logsource:
            return source
    raise Unsupported(f"no secmon dataset for logsource {describe(logsource)}")


def pipeline_for(source: Source | None, placeholders: dict[str, list[str]]) -> ProcessingPipeline:
    """The pySigma pipeline of one source (None: no field mapping, the --fields raw hunt)."""
    items = []
    if source is not None and source.fields:
        items.append(
            ProcessingItem(
                identifier=f"secmon_fields_{'_'.join(map(str, source.logsource))}",
                transformation=FieldMappingTransformation(_mapping(source.fields)),
            )
        )
    items.append(ProcessingItem(identifier="secmon_placeholders", transformation=ValueListPlaceholderTransformation()))
    return ProcessingPipeline(name="secmon", items=items, vars={k: list(v) for k, v in placeholders.items()})


def unknown_fields(fields: set[str]) -> list[str]:
    """The names among `fields` that are no field of secmon's events."""
    return sorted(f for f in fields if f not in ecs_paths())


@lru_cache(maxsize=1)
def ecs_paths() -> frozenset[str]:
    """Every dotted field path of the Event model, by its JSON names (`@timestamp`, `source.as.number`)."""
    return frozenset(_paths(Event, ""))


def _paths(model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        out.append(path)
        nested = _model_of(info.annotation)
        if nested is not None:
            out += _paths(nested, path + ".")
    return out


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType, list):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _mapping(fields: Mapping[str, str]) -> dict[str | None, str | list[str]]:
    """pySigma's field mapping (its type admits a None key, for the keyword field)."""
    return {name: target for name, target in fields.items()}
