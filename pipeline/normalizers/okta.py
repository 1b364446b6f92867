"""Okta System Log events (dataset okta.system): one LogEvent JSON object per line.

The System Log API (`/api/v1/logs`) and Okta's log streaming deliver LogEvent objects; saved one
per line (`jq -c '.[]'`), each line is one event. Fields read (Okta's names, documented for the
LogEvent object), the rest stays in `event.original` when kept:

| LogEvent                                  | event                                          |
|-------------------------------------------|------------------------------------------------|
| `uuid`, `published`, `eventType`          | id part of the message, `@timestamp`, `event.action` |
| `outcome.result` (SUCCESS, FAILURE, DENY, ALLOW, CHALLENGE, SKIPPED, UNKNOWN), `outcome.reason` | `event.outcome` (success / failure / unknown), `event.reason` |
| `actor.alternateId`, `actor.id` (type User) | `user.name`, `user.id`                   |
| `client.ipAddress`, `client.userAgent.rawUserAgent` | `source.ip`, `user_agent.original`     |
| `securityContext.asNumber`, `asOrg`       | `source.as`                                    |
| `authenticationContext.externalSessionId` | `secmon.session.id`                            |

`client.geographicalContext` is not copied into `source.geo`: the GeoIP enricher locates every
source's addresses with one database, so impossible travel and new-country compare like with like
across app, SSH, AWS and Okta logins (Okta's city and country stay in `event.original`).
`user.session.start` is the login the identity detectors read (detectors/identity.py): SUCCESS a
login, FAILURE (INVALID_CREDENTIALS, VERIFICATION_ERROR, LOCKED_OUT, ...) a failed one.
`user.authentication.auth_via_mfa` sets `secmon.auth.mfa` (true on SUCCESS) and is a factor, not a
login. Other event types are kept (category iam or authentication) for search and Sigma rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from pipeline.normalizers.base import Normalizer, ParseError, ParseOptions, RawRecord, decode_utf8, load_json_object
from pipeline.normalizers.base import validate as validate_model
from schemas.bounds import CutAtBounds
from schemas.ecs import Outcome
from schemas.event import Event
from schemas.ids import event_id, record_key
from schemas.types import IP, Keyword, LongKeyword, UtcDatetime

DATASET = "okta.system"
LOGIN = "user.session.start"
MFA = "user.authentication.auth_via_mfa"
_OUTCOMES: dict[str, Outcome] = {"SUCCESS": "success", "ALLOW": "success", "FAILURE": "failure", "DENY": "failure"}


class _Loose(CutAtBounds):  # overlong values are cut at their bound (schemas/bounds.py), not refused
    model_config = ConfigDict(extra="ignore", frozen=True)


class OktaActor(_Loose):
    """LogEvent `actor`: who did it (a User for sign-ins)."""

    id: Keyword | None = Field(None, description="Okta id of the actor.")
    type: Keyword | None = Field(None, description="User, PublicClientApp, SystemPrincipal, ...")
    alternateId: Keyword | None = Field(None, description="Login name (e-mail) of a user.")


class OktaUserAgent(_Loose):
    """LogEvent `client.userAgent`."""

    rawUserAgent: LongKeyword | None = Field(None, description="The User-Agent header.")


class OktaClient(_Loose):
    """LogEvent `client`: where the request came from."""

    ipAddress: IP | None = Field(None, description="Client address (after Okta's trusted proxies).")
    userAgent: OktaUserAgent | None = Field(None, description="The client's user agent.")


class OktaOutcome(_Loose):
    """LogEvent `outcome`."""

    result: Keyword | None = Field(None, description="SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, CHALLENGE, UNKNOWN.")
    reason: Keyword | None = Field(None, description="Why, e.g. INVALID_CREDENTIALS.")


class OktaSecurity(_Loose):
    """LogEvent `securityContext`: the client address's network."""

    asNumber: int | None = Field(None, description="Autonomous system number.")
    asOrg: Keyword | None = Field(None, description="Autonomous system owner.")


class OktaAuthContext(_Loose):
    """LogEvent `authenticationContext`."""

    externalSessionId: Keyword | None = Field(None, description="Okta session id.")


class OktaLogEvent(_Loose):
    """One Okta System Log LogEvent (unknown keys are ignored, never indexed)."""

    uuid: Keyword = Field(min_length=1, description="Unique id of the event.")
    published: UtcDatetime = Field(description="When Okta logged it (ISO 8601 with offset).")
    eventType: Keyword = Field(min_length=1, description="Event type, e.g. user.session.start.")
    displayMessage: LongKeyword | None = Field(None, description="Human-readable summary.")
    actor: OktaActor | None = Field(None, description="Who.")
    client: OktaClient | None = Field(None, description="From where.")
    outcome: OktaOutcome | None = Field(None, description="Result.")
    securityContext: OktaSecurity | None = Field(None, description="Network of the client address.")
    authenticationContext: OktaAuthContext | None = Field(None, description="Session context.")


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One LogEvent JSON line -> one event."""
    text = decode_utf8(record.data)
    obj = load_json_object(text)
    if "eventType" not in obj or "published" not in obj:
        raise ParseError("invalid_shape", "an Okta LogEvent needs eventType and published")
    log = validate_model(OktaLogEvent, obj)
    return [_to_event(log, record, text if options.keep_original else None)]


def _to_event(log: OktaLogEvent, record: RawRecord, original: str | None) -> Event:
    outcome = _OUTCOMES.get((log.outcome.result or "").upper(), "unknown") if log.outcome else "unknown"
    user = _user(log.actor)
    ip = log.client.ipAddress if log.client else None
    ua = log.client.userAgent.rawUserAgent if log.client and log.client.userAgent else None
    session = log.authenticationContext.externalSessionId if log.authenticationContext else None
    # one validation of plain data: building each nested model on its own cost twice as much
    return Event.model_validate(
        {
            "timestamp": log.published,
            "message": log.displayMessage or log.eventType,
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": ["authentication"]
                if log.eventType.startswith(("user.session.", "user.authentication."))
                else ["iam"],
                "type": ["start"] if log.eventType == LOGIN and outcome == "success" else ["info"],
                "action": log.eventType,
                "outcome": outcome,
                "reason": log.outcome.reason if log.outcome else None,
                "code": log.uuid,
                "dataset": DATASET,
                "module": "okta",
                "provider": "okta",
                "created": record.received,
                "original": original,
            },
            "source": {"ip": ip, "address": ip, "as": _as(log.securityContext)} if ip else None,
            "user": user,
            "user_agent": {"original": ua} if ua else None,
            "related": {"ip": [ip] if ip else [], "user": [user["name"]] if user else []},
            "secmon": {
                "origin": record.origin,
                "auth": {"method": "okta", "mfa": outcome == "success"} if log.eventType == MFA else None,
                "session": {"id": session} if session and session != "unknown" else None,
            },
        }
    )


def _user(actor: OktaActor | None) -> dict[str, str | None] | None:
    if actor is None or (actor.type and actor.type != "User") or not actor.alternateId:
        return None
    return {"name": actor.alternateId, "id": actor.id}


def _as(security: OktaSecurity | None) -> dict[str, Any] | None:
    if security is None or security.asNumber is None:
        return None
    return {"number": security.asNumber, "organization": {"name": security.asOrg} if security.asOrg else None}


def _sniff(first: bytes) -> bool:
    head = first.lstrip()
    return head.startswith(b"{") and b'"eventType"' in head and b'"published"' in head and b'"uuid"' in head


NORMALIZER = Normalizer(
    id="okta", title="Okta System Log (LogEvent JSON lines)", framing="line", parse=parse, sniff=_sniff
)
