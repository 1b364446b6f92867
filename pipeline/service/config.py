"""Settings of the access-log service (`service.*`, env `SECMON_SERVICE_...`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# Asymmetric only: an HMAC algorithm would let anyone holding the public key forge tokens (HS/RS confusion).
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


class ServiceSettings(BaseModel):
    """The HTTP service: listen address, token verification, limits and the session-revocation endpoint."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(8080, ge=1, le=65535, description="Port to listen on.")
    issuer: str | None = Field(None, description="Expected `iss` of bearer tokens (the SaaS identity provider).")
    audience: str = Field("secmon-access-log", description="Expected `aud` of bearer tokens.")
    jwks_file: Path | None = Field(None, description="JWKS (JSON) or PEM public key file the tokens are verified with.")
    jwks_url: str | None = Field(None, description="JWKS URL of the identity provider (fetched and cached).")
    algorithms: tuple[str, ...] = Field(("RS256", "ES256"), description="Allowed JWS algorithms (asymmetric only).")
    leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat.")
    rate_per_minute: int = Field(120, ge=1, description="Requests per caller (token subject) per minute.")
    rate_burst: int = Field(30, ge=1, description="Requests a caller may make at once before being limited.")
    page_max: int = Field(500, ge=1, le=10000, description="Largest page size a caller may ask for.")
    export_max_rows: int = Field(100_000, ge=1, description="Rows a CSV export stops at.")
    frame_ancestors: str = Field(
        "'self'",
        pattern=r"^[A-Za-z0-9 .:/*'_-]+$",
        description="CSP frame-ancestors of the page: origins of the SaaS app that embed it.",
    )
    revoke_url: SecretStr | None = Field(None, description="SaaS session-revocation endpoint (POST); may hold a token.")
    revoke_secret: SecretStr | None = Field(
        None, description="whsec_ secret signing revocation calls (env/secrets only)."
    )
    revoke_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one revocation call.")
    revoke_max_attempts: int = Field(8, ge=1, description="Attempts before a sign-out is recorded as failed.")
    revoke_backoff_seconds: float = Field(1.0, gt=0, description="Backoff before the first retry (doubles, jittered).")
    revoke_budget_seconds: float = Field(900.0, gt=0, description="Time after the first attempt it is given up.")

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, algs: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in algs if a not in ASYMMETRIC]
        if bad or not algs:
            raise ValueError(
                f"service.algorithms: {', '.join(bad) or 'empty'} not allowed; use asymmetric "
                f"algorithms only ({', '.join(sorted(ASYMMETRIC))})"
            )
        return algs

    @model_validator(mode="after")
    def _one_key_source(self) -> ServiceSettings:
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("service: set jwks_file or jwks_url, not both")
        return self
