"""Which detector state entries belong to a purged workspace (the engine deletes them: Engine.forget)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping

from detectors.base import Detector
from detectors.state import StateStore

WORKSPACE_FIELD = "organization.id"  # the field naming an event's workspace


def workspace_entries(
    store: StateStore,
    enabled: Mapping[str, Detector],
    workspace: str,
    alert_ids: Collection[str] = (),
    entities: Mapping[str, Collection[str]] | None = None,
    digest: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """The store keys of the workspace's entries, from a copy of the keys (the caller may delete).

    An entry is the workspace's when one of its alerts is one of the workspace's (`alert_ids`),
    or when its detector keys on a field whose value here is the workspace's: `organization.id`
    == workspace, or a value listed in `entities` (e.g. {"user.name": the workspace's users}).
    `digest`: alert ids and entity values are given as these digests (a ForgetRequest). The key
    fields of a detector not `enabled` here come from the registry: its entries were written
    while it was."""
    from detectors.registry import DETECTORS

    norm: Callable[[str], str] = digest or str
    values = {WORKSPACE_FIELD: {norm(workspace)}, **{k: set(v) for k, v in (entities or {}).items()}}
    ids = set(alert_ids)
    for skey in list(store.keys()):
        detector_id, _, entity = skey.partition("|")
        record = store.get(skey)
        alert_of_workspace = record is not None and any(norm(a.id) in ids for a in record.alerts.values())
        det = enabled.get(detector_id) or DETECTORS.get(detector_id)
        fields = det.meta.state.key if det is not None else ()
        if alert_of_workspace or _entity_matches(fields, entity, values, norm):
            yield skey


def _entity_matches(
    fields: tuple[str, ...], entity: str, values: Mapping[str, set[str]], norm: Callable[[str], str]
) -> bool:
    """Whether one of the entity key's fields holds one of the values to forget."""
    parts = entity.split("|")
    if len(parts) != len(fields):
        # a value containing "|": only a single-field key can still be read unambiguously
        parts = [entity] if len(fields) == 1 else []
    return any(name in values and norm(part) in values[name] for name, part in zip(fields, parts, strict=False))
