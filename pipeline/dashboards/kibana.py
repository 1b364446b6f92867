"""Kibana's saved-objects API: import (overwrite, idempotent) and export of secmon's objects.

Import: `POST <kibana>[/s/<space>]/api/saved_objects/_import?overwrite=true`, multipart form with
one field `file` holding the NDJSON, headers `kbn-xsrf` and `Authorization: ApiKey <key>`. Kibana
answers 200 with `success`, `successCount` and per-object `errors` even when some objects failed.
Every failure becomes a `KibanaError` whose message says what was wrong and what to do.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from pipeline.settings import KibanaSettings


class KibanaError(ValueError):
    """Kibana could not be reached or refused the request; the message is one line for the user."""


@dataclass
class ImportResult:
    """What Kibana said about one import."""

    success_count: int
    errors: list[str] = field(default_factory=list)


def _base(cfg: KibanaSettings) -> str:
    url = cfg.url.rstrip("/")
    return f"{url}/s/{cfg.space}" if cfg.space else url


def _headers(cfg: KibanaSettings) -> dict[str, str]:
    headers = {"kbn-xsrf": "secmon"}
    if cfg.api_key is not None:
        headers["Authorization"] = f"ApiKey {cfg.api_key.get_secret_value()}"
    return headers


def _ssl(cfg: KibanaSettings) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(cfg.ca_certs)) if cfg.ca_certs else True


async def _request(cfg: KibanaSettings, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=cfg.request_timeout)
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=_headers(cfg)) as session:
            async with session.request(method, _base(cfg) + path, ssl=_ssl(cfg), **kwargs) as resp:
                return resp.status, await resp.text()
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise KibanaError(
            f"Kibana at {cfg.url} is unreachable ({type(exc).__name__}): check --kibana-url "
            "(or kibana.url) and that Kibana is up"
        ) from None


def _check_status(cfg: KibanaSettings, status: int, body: str, what: str) -> Any:
    if status in (401, 403):
        key = "the API key was refused" if cfg.api_key is not None else "no API key was given"
        raise KibanaError(
            f"Kibana answered {status} to the {what}: {key}; put a key allowed to manage saved "
            'objects in SECMON_KIBANA_API_KEY or the secrets file secmon_kibana ({"api_key": ...})'
        )
    try:
        payload = json.loads(body) if body else {}
    except json.JSONDecodeError:
        payload = None
    if status != 200 or not isinstance(payload, dict):
        message = payload.get("message") if isinstance(payload, dict) else body[:200]
        raise KibanaError(f"Kibana answered {status} to the {what}: {message or 'no message'}; is {cfg.url} Kibana 9?")
    return payload


def describe_error(error: dict[str, Any]) -> str:
    """One line for one object Kibana did not import."""
    detail = error.get("error", {})
    kind = detail.get("type", "unknown")
    line = f"{error.get('type')} {error.get('id')} ({error.get('meta', {}).get('title') or error.get('title', '')}): {kind}"
    if kind == "missing_references":
        line += " " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in detail.get("references", []))
    elif detail.get("message") or detail.get("reason"):
        line += f" {detail.get('message') or detail.get('reason')}"
    return line


async def import_ndjson(cfg: KibanaSettings, ndjson: str) -> ImportResult:
    """Import (overwriting objects with the same ids) and report what Kibana imported and refused."""
    form = aiohttp.FormData()
    form.add_field("file", ndjson.encode("utf-8"), filename="secmon.ndjson", content_type="application/ndjson")
    status, body = await _request(cfg, "POST", "/api/saved_objects/_import", params={"overwrite": "true"}, data=form)
    payload = _check_status(cfg, status, body, "import")
    return ImportResult(int(payload.get("successCount", 0)), [describe_error(e) for e in payload.get("errors", [])])


async def export_ndjson(cfg: KibanaSettings, wanted: list[dict[str, str]]) -> str:
    """The NDJSON Kibana exports for these objects and everything they reference (summary line dropped)."""
    status, body = await _request(
        cfg, "POST", "/api/saved_objects/_export", json={"objects": wanted, "includeReferencesDeep": True}
    )
    if status != 200:
        _check_status(cfg, status, body, "export")
    lines = [line for line in body.splitlines() if line.strip()]
    summary = json.loads(lines[-1]) if lines else {}
    if "exportedCount" not in summary:
        raise KibanaError(
            f"Kibana's export of {len(wanted)} objects ended without its summary line; is {cfg.url} Kibana 9?"
        )
    if summary.get("missingRefCount"):
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in summary.get("missingReferences", []))
        raise KibanaError(
            f"Kibana is missing objects the dashboards reference ({missing}): run `secmon dashboards import` first"
        )
    return "".join(line + "\n" for line in lines[:-1])
