"""Bearer tokens of the SaaS identity provider -> a Caller (user id, workspace roles, staff flag).

Verified with PyJWT against the configured JWKS or PEM key: signature, `iss`, `aud`, `exp` (and
`nbf`/`iat` when present), and the header's `alg` against an allow-list of asymmetric algorithms,
so `alg: none` and HS256-signed-with-the-public-key (HS/RS confusion) never verify. The key is
chosen by `kid` and must be of the family the algorithm needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt
from jwt import PyJWK, PyJWKClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.service.config import ServiceSettings

Role = Literal["member", "admin", "owner"]
ID = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$"
_ID = re.compile(ID)


class AuthError(Exception):
    """The request carries no usable token; the message says why (never the token itself)."""


class Claims(BaseModel):
    """The claims secmon reads from a verified token (others are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str = Field(pattern=ID, description="Stable user id (the sign-ins' user.id).")
    name: str | None = Field(None, max_length=256, description="Display name or e-mail, for the audit trail.")
    workspaces: dict[str, Role] = Field(
        default_factory=dict, max_length=1000, description="Workspace id -> the user's role in it."
    )
    workspace: str | None = Field(None, pattern=ID, description="Single-workspace form: the workspace id.")
    role: Role | None = Field(None, description="Single-workspace form: the role in `workspace`.")
    staff: bool = Field(False, description="A secmon operator's employee: may read any workspace (logged).")


@dataclass(frozen=True)
class Caller:
    """Who is calling: their id, their role per workspace, and whether they are staff."""

    id: str
    name: str | None = None
    roles: dict[str, Role] = field(default_factory=dict)
    staff: bool = False

    def administers(self, workspace: str) -> bool:
        """True when the caller is an admin or owner of the workspace."""
        return self.roles.get(workspace) in ("admin", "owner")

    @classmethod
    def of(cls, claims: Claims) -> Caller:
        """The caller of verified claims (both workspace forms merged; ids checked)."""
        roles = dict(claims.workspaces)
        if claims.workspace and claims.role:
            roles[claims.workspace] = claims.role
        bad = [w for w in roles if not _ID.match(w)]
        if bad:
            raise AuthError("token claim workspaces: invalid workspace id")
        return cls(claims.sub, claims.name, roles, claims.staff)


class Verifier:
    """Verifies bearer tokens with the configured keys; one per app."""

    def __init__(self, cfg: ServiceSettings) -> None:
        if cfg.jwks_file is None and cfg.jwks_url is None:
            raise ValueError(
                "service.jwks_file or service.jwks_url is required to verify tokens; "
                "set SECMON_SERVICE_JWKS_FILE to the identity provider's JWKS or PEM public key"
            )
        self.cfg = cfg
        self._keys = load_keys(cfg.jwks_file) if cfg.jwks_file is not None else None
        self._client = PyJWKClient(cfg.jwks_url, cache_keys=True, lifespan=300) if cfg.jwks_url else None

    def verify(self, token: str) -> Caller:
        """The caller a token names, or AuthError saying what was wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        if alg not in self.cfg.algorithms:
            raise AuthError(f"token algorithm {str(alg)[:16]!r} not allowed")
        key = self._key(header)
        if key.key_type != _family(alg):  # e.g. an RSA key with ES256: refuse before decoding
            raise AuthError("token algorithm does not match its key")
        try:
            data = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.cfg.audience,
                issuer=self.cfg.issuer,
                leeway=self.cfg.leeway_seconds,
                options={"require": ["exp", "sub", "aud"] + (["iss"] if self.cfg.issuer else [])},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token audience not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token issuer not accepted") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"token rejected: {type(exc).__name__}") from exc
        try:
            return Caller.of(Claims.model_validate(data))
        except ValidationError as exc:
            raise AuthError(
                "token claims invalid: " + ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            ) from None

    def _key(self, header: dict[str, Any]) -> PyJWK:
        kid = header.get("kid")
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid) if kid else self._only(self._client.get_signing_keys())
            except jwt.PyJWTError as exc:
                raise AuthError("no key of the identity provider matches the token") from exc
        assert self._keys is not None
        matching = [k for k in self._keys if kid is None or k.key_id in (None, kid)]
        if not matching:
            raise AuthError("no configured key matches the token's kid")
        family = _family(header["alg"])
        return next((k for k in matching if k.key_type == family), matching[0])

    @staticmethod
    def _only(keys: list[PyJWK]) -> PyJWK:
        if len(keys) != 1:
            raise AuthError("token has no kid and the identity provider has several keys")
        return keys[0]


def _family(alg: str) -> str:
    return {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}[alg[:2]]


def load_keys(path: Path) -> list[PyJWK]:
    """The public keys of a JWKS file, or of a single PEM public key."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        keys = json.loads(text).get("keys", [])
        out = []
        for k in keys:
            if k.get("kty") == "oct":
                raise ValueError(f"{path}: symmetric (oct) keys are not accepted; configure public keys only")
            out.append(PyJWK(k))
        if not out:
            raise ValueError(f"{path}: no keys in the JWKS")
        return out
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pub = load_pem_public_key(text.encode())
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[_pem_alg(pub)].to_jwk(pub))
    return [PyJWK(jwk)]


def _pem_alg(pub: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(pub, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ValueError("PEM key: only RSA, EC or Ed25519 public keys are accepted")


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header, or AuthError."""
    if not header or not header.lower().startswith("bearer "):
        raise AuthError("missing bearer token: send Authorization: Bearer <token>")
    token = header[7:].strip()
    if not token or len(token) > 16384:
        raise AuthError("missing or oversized bearer token")
    return token
