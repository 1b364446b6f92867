"""The `delivery` settings section: routes file, receivers (with their secrets), timeouts, retries.

Receivers are settings, not part of the routes file, because they carry secrets: webhook signing
secrets, Slack webhook URLs (the URL is the credential) and PagerDuty routing keys are SecretStr,
set from the environment or the secrets directory, never the command line, and never logged.
Non-secret parts may sit in the YAML config; pydantic-settings merges the sources per key:

    # secmon.yaml
    delivery:
      routes_file: /etc/secmon/routes.yaml
      kibana_url: https://kibana.internal
      receivers:
        security-webhook: {kind: webhook}
        oncall-pagerduty: {kind: pagerduty}
    # environment
    SECMON_DELIVERY_RECEIVERS='{"security-webhook": {"url": "https://hooks.internal/secmon",
        "secret": "whsec_..."}, "oncall-pagerduty": {"routing_key": "R0..."}}'
    # or a file $SECMON_SECRETS_DIR/secmon_delivery holding {"receivers": {...the same...}}
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas.errors import ConfigError

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
ReceiverKind = Literal["webhook", "slack", "pagerduty"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrySettings(_Section):
    """When a failed notification is tried again, and when it is given up (dead-lettered)."""

    max_attempts: int = Field(12, ge=1, description="Attempts per notification before it is dead-lettered.")
    budget_seconds: float = Field(
        900.0, gt=0, description="Time from the first attempt after which it is dead-lettered."
    )
    initial_backoff_seconds: float = Field(1.0, gt=0, description="Backoff before the first retry (doubles, jittered).")
    max_backoff_seconds: float = Field(120.0, gt=0, description="Upper bound of one backoff.")
    max_retry_after_seconds: float = Field(600.0, gt=0, description="Upper bound honoured for a Retry-After header.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open a receiver's circuit.")
    breaker_cooldown_seconds: float = Field(30.0, gt=0, description="Open circuit: wait before one probe attempt.")


class ReceiverSettings(_Section):
    """One receiver: a generic signed webhook, a Slack incoming webhook or a PagerDuty service."""

    kind: ReceiverKind = Field(description="webhook, slack or pagerduty.")
    url: SecretStr | None = Field(
        None,
        description="Endpoint. Slack: the incoming-webhook URL (a credential). "
        "PagerDuty: defaults to the Events API v2 endpoint.",
    )
    secret: SecretStr | None = Field(
        None, description="webhook: the Standard Webhooks signing secret, `whsec_<base64>`."
    )
    routing_key: SecretStr | None = Field(None, description="pagerduty: the service's Events API v2 integration key.")
    pages: bool | None = Field(
        None, description="Wakes people up (experimental detectors never reach it); default: true for pagerduty."
    )
    timeout_seconds: float | None = Field(
        None, gt=0, description="Per-request timeout (default: delivery.timeout_seconds)."
    )
    max_concurrency: int = Field(4, ge=1, description="Requests in flight to this receiver at once.")

    @model_validator(mode="after")
    def _defaults(self) -> ReceiverSettings:
        if self.pages is None:
            self.pages = self.kind == "pagerduty"
        if self.kind == "pagerduty" and self.url is None:
            self.url = SecretStr(PAGERDUTY_EVENTS_URL)
        return self

    def problems(self) -> list[str]:
        """What is missing or malformed (never quoting a value: these are secrets)."""
        found = [
            f"needs {name}"
            for name, needed in (
                ("url", self.kind in ("webhook", "slack")),
                ("secret", self.kind == "webhook"),
                ("routing_key", self.kind == "pagerduty"),
            )
            if needed and getattr(self, name) is None
        ]
        if self.secret is not None:
            try:
                signing_key(self.secret)
            except ValueError as exc:
                found.append(str(exc))
        return found


class DeliverySettings(_Section):
    """Alert delivery to on-call (off unless routes_file is set)."""

    routes_file: Path | None = Field(None, description="Routing tree (YAML); unset = no delivery agents.")
    receivers: dict[str, ReceiverSettings] = Field(default_factory=dict, description="Receivers by name.")
    kibana_url: str | None = Field(None, description="Kibana base URL for links in notifications.")
    kibana_data_view: str = Field("secmon-alerts", description="Id of the Kibana data view over the alert indices.")
    timeout_seconds: float = Field(10.0, gt=0, description="Default per-request timeout.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retries, circuit breaker, budget.")
    tick_seconds: float = Field(1.0, gt=0, description="How often due groups and retries are looked at.")
    silence_refresh_seconds: float = Field(5.0, gt=0, description="How often silences are re-read from Elasticsearch.")

    @field_validator("receivers")
    @classmethod
    def _names(cls, receivers: dict[str, ReceiverSettings]) -> dict[str, ReceiverSettings]:
        bad = [name for name in receivers if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64]
        if bad:
            raise ValueError(f"receiver names must be 1-64 letters, digits, - or _ (they are metric labels): {bad}")
        return receivers

    def problems(self) -> list[str]:
        """Every incomplete receiver, as `delivery.receivers.<name> (<kind>): what` (no secret)."""
        return [
            f"delivery.receivers.{name} ({r.kind}): {p}" for name, r in self.receivers.items() for p in r.problems()
        ]

    def check(self) -> None:
        """Raise ConfigError listing every incomplete receiver. Not a pydantic validator on purpose:
        pydantic quotes the raw input of a failing validator, and that input holds the secrets."""
        problems = self.problems()
        if problems:
            raise ConfigError(
                "invalid delivery settings:\n  " + "\n  ".join(problems) + "\nset secrets in the "
                "environment (SECMON_DELIVERY_RECEIVERS) or the secrets directory, never on the command line"
            )


def signing_key(secret: SecretStr) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError (without the secret) when malformed."""
    text = secret.get_secret_value()
    if not text.startswith("whsec_"):
        raise ValueError("webhook secret must look like whsec_<base64> (Standard Webhooks)")
    try:
        key = base64.b64decode(text[len("whsec_") :], validate=True)
    except binascii.Error:
        raise ValueError("webhook secret after whsec_ is not valid base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("webhook secret must decode to 24-64 bytes")
    return key
