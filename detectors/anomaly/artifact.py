"""Model files: versioned, hashed and signed, and loaded only when the signature is ours.

A model file is one line of magic, one line of JSON manifest, then the payload (a joblib
pickle of the models by kind). Unpickling runs code, so nothing is unpickled before the
manifest's HMAC-SHA256 (keyed with `anomaly.key`, else the local key file) and the payload's
SHA-256 check out. The version is the payload digest: the same training gives the same version.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detectors.anomaly.model import AnomalyModel
from schemas.errors import SecmonError

MAGIC = b"SECMON-ANOMALY-MODEL/1\n"
MAX_MANIFEST_BYTES = 1 << 20
Bundle = dict[str, AnomalyModel]  # behaviour kind -> model


class ModelError(SecmonError, ValueError):
    """A model file that cannot be used: missing, not ours, changed or unreadable (says what to do)."""


def save(bundle: Bundle, path: Path, key: bytes) -> str:
    """Write `bundle` to `path` atomically (a reader never sees half a file); returns its version."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump({kind: replace(m, _cache={}, _scorers=None) for kind, m in bundle.items()}, buffer, compress=3)
    payload = buffer.getvalue()
    version = hashlib.sha256(payload).hexdigest()[:16]
    manifest = {
        "format": 1,
        "version": version,
        "created": datetime.now(timezone.utc).isoformat(),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "key_id": key_id(key),
        "kinds": {
            kind: {"features": list(m.features), "samples": m.samples, **m.trained} for kind, m in bundle.items()
        },
    }
    manifest["signature"] = _sign(manifest, key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(MAGIC + json.dumps(manifest, sort_keys=True).encode() + b"\n" + payload)
    os.replace(tmp, path)
    return version


def read_manifest(path: Path, key: bytes) -> tuple[dict[str, Any], bytes]:
    """The verified manifest and payload of a model file; ModelError when it is not ours."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"model file {path}: {exc.strerror or exc}; train one with `secmon anomaly train`") from None
    if not data.startswith(MAGIC):
        raise ModelError(f"model file {path} is not a secmon anomaly model; train one with `secmon anomaly train`")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(data[len(MAGIC) : end])
        signature = manifest.pop("signature")
    except (ValueError, KeyError, AttributeError):
        raise ModelError(f"model file {path} has no readable manifest: it is damaged; train it again") from None
    if not hmac.compare_digest(str(signature), _sign(manifest, key)):
        raise ModelError(
            f"model file {path} is not signed with this secmon's model key (key id {key_id(key)}, "
            f"file says {manifest.get('key_id')}): it was changed or written elsewhere; refusing to "
            "load it. Train it here, or set anomaly.key to the key it was trained with"
        )
    payload = data[end + 1 :]
    if hashlib.sha256(payload).hexdigest() != manifest.get("payload_sha256"):
        raise ModelError(
            f"model file {path}: the payload does not match its signed digest (changed or truncated); "
            "refusing to load it. Train it again"
        )
    return manifest, payload


def load(path: Path, key: bytes) -> Bundle:
    """The models of a verified model file."""
    import joblib

    manifest, payload = read_manifest(path, key)
    try:
        bundle: Bundle = joblib.load(io.BytesIO(payload))  # safe to unpickle: signature and digest verified above
    except Exception as exc:  # noqa: BLE001 - a signed file that still fails is a version mismatch
        raise ModelError(
            f"model file {path} is signed but cannot be read here ({type(exc).__name__}: {exc}); "
            "retrain it with this version of secmon"
        ) from None
    for model in bundle.values():
        model.version = manifest["version"]
    return bundle


def key_id(key: bytes) -> str:
    """A short public name of a key (to tell which key signed a file, never the key)."""
    return hashlib.sha256(b"secmon-anomaly-key-id" + key).hexdigest()[:12]


def _sign(manifest: dict[str, Any], key: bytes) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def local_key(path: Path, create: bool) -> bytes:
    """The key in `path` (created with 32 random bytes, mode 0600, when `create` and missing)."""
    path = Path(path).expanduser()
    if not path.exists():
        if not create:
            raise ModelError(
                f"no model key: {path} does not exist and anomaly.key is not set; train a model "
                "first (`secmon anomaly train` creates the key) or set anomaly.key"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip().encode()
