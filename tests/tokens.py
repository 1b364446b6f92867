"""Test identity provider: key pairs, a JWKS file, and tokens good and bad (for the access-log service)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://id.example.test"
AUDIENCE = "secmon-access-log"


@dataclass
class Idp:
    """An RSA and an EC signing key (kids rsa1/ec1), plus an unrelated RSA key for wrong-key tokens."""

    rsa: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    other: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key, alg in (("rsa1", self.rsa, "RS256"), ("ec1", self.ec, "ES256")):
            algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
            jwk = json.loads(algo.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        return {"keys": keys}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(
        self,
        sub: str,
        *,
        workspaces: dict[str, str] | None = None,
        staff: bool = False,
        ttl: int = 600,
        aud: str = AUDIENCE,
        iss: str = ISSUER,
        alg: str = "RS256",
        key: Any = None,
        kid: str | None = None,
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "iss": iss,
            "aud": aud,
            "iat": now,
            "exp": now + ttl,
            "name": f"{sub}@example.test",
            "workspaces": workspaces or {},
            "staff": staff,
            **extra,
        }
        signing = key if key is not None else (self.rsa if alg.startswith(("RS", "PS")) else self.ec)
        return jwt.encode(
            claims, signing, algorithm=alg, headers={"kid": kid or ("rsa1" if alg[:2] in ("RS", "PS") else "ec1")}
        )

    def bad_tokens(self, sub: str, workspaces: dict[str, str]) -> dict[str, str]:
        """Tokens that must all be refused, by what is wrong with them."""
        good = self.token(sub, workspaces=workspaces)
        head, body, sig = good.split(".")
        forged_body = _b64(json.dumps({**json.loads(_unb64(body)), "sub": "someone-else"}).encode())
        none_head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa1"}).encode())
        hs_head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}).encode())
        import hashlib
        import hmac

        hs_sig = _b64(hmac.new(self.public_pem(), f"{hs_head}.{body}".encode(), hashlib.sha256).digest())
        return {
            "forged": f"{head}.{forged_body}.{sig}",
            "expired": self.token(sub, workspaces=workspaces, ttl=-3600),
            "wrong_audience": self.token(sub, workspaces=workspaces, aud="another-service"),
            "wrong_issuer": self.token(sub, workspaces=workspaces, iss="https://evil.example"),
            "wrong_key": self.token(sub, workspaces=workspaces, key=self.other),
            "alg_none": f"{none_head}.{body}.",
            "hs_rs_confusion": f"{hs_head}.{body}.{hs_sig}",
            "garbage": "not-a-token",
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
