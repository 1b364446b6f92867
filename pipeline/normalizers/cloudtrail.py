"""AWS CloudTrail: S3 delivery files (`{"Records": [...]}` on one line, plain or gzip) and NDJSON.

A delivery file is one line holding every record; `split` cuts it into one record per element so
each event gets its own id (origin.index) and Kafka messages stay small. The envelope (who, when,
what, from where) is validated by a pydantic model; the service-specific `requestParameters`,
`responseElements`, `additionalEventData` and `tlsDetails` are free-form, so they stay `Any` and
are read with type checks, never trusted.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pydantic import ConfigDict

from pipeline.normalizers.base import (
    Normalizer,
    ParseError,
    ParseOptions,
    RawRecord,
    decode_utf8,
    load_json_object,
    validate,
)
from pipeline.normalizers.cloudtrail_kinds import classify, service_of
from pipeline.normalizers.cloudtrail_logging import logging_config
from pipeline.normalizers.cloudtrail_rules import firewall_rules
from schemas.bounds import CutAtBounds
from schemas.event import Event
from schemas.ids import event_id, record_key
from schemas.types import Keyword, Text

DATASET = "aws.cloudtrail"
MAX_LINE_BYTES = 64 * 1024 * 1024  # a delivery file is one line; it is read whole, then split
HIDDEN_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"  # failed console login for a name that is no user
HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff: may decode to a lone surrogate
TLS_VERSION = re.compile(r"^(TLS|SSL)v(\d(?:\.\d)?)$")  # "TLSv1.2" -> tls, 1.2


class SessionIssuer(CutAtBounds):
    """The role or user whose credentials a session was issued from."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    userName: Keyword | None = None


class SessionContext(CutAtBounds):
    """`userIdentity.sessionContext`: only the issuer is used."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sessionIssuer: SessionIssuer | None = None


class UserIdentity(CutAtBounds):
    """`userIdentity`: who made the call."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Keyword | None = None
    principalId: Keyword | None = None
    arn: Keyword | None = None
    accountId: Keyword | None = None
    userName: Keyword | None = None
    invokedBy: Keyword | None = None
    sessionContext: SessionContext | None = None


class CloudTrailRecord(CutAtBounds):
    """One CloudTrail record's envelope (unknown keys are ignored, never indexed)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    eventTime: str
    eventSource: Keyword
    eventName: Keyword
    awsRegion: Keyword | None = None
    recipientAccountId: Keyword | None = None
    userIdentity: UserIdentity | None = None
    sourceIPAddress: Keyword | None = None
    userAgent: str | None = None
    errorCode: Keyword | None = None
    errorMessage: Text | None = None
    requestParameters: Any = None
    responseElements: Any = None
    additionalEventData: Any = None
    tlsDetails: Any = None


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One CloudTrail record (an NDJSON line or one element of a split delivery file) -> one event."""
    text = decode_utf8(record.data)
    obj = load_json_object(text)
    if SURROGATE_ESCAPE.search(text):
        obj = _without_lone_surrogates(obj)
    if "Records" in obj:
        raise ParseError(
            "invalid_shape",
            "a Records delivery document that was not split into records "
            "(Records is not a list, or the document is over the line limit)",
        )
    if "digestStartTime" in obj and "logFiles" in obj:
        return []  # an integrity digest file: valid CloudTrail output, but no event
    trail = validate(CloudTrailRecord, obj)
    return [_to_event(trail, record, _event_time(trail.eventTime, options), text if options.keep_original else None)]


def _without_lone_surrogates(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with lone UTF-16 surrogates (valid JSON escapes, invalid text) replaced by U+FFFD,
    so one odd user agent cannot cost the event; paired escapes (emoji) decode normally."""
    try:
        text = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return json.loads(text)
    except RecursionError:
        raise ParseError("too_deep", "JSON nests too deeply to parse safely") from None


def _event_time(value: str, options: ParseOptions) -> datetime:
    try:
        when = datetime.fromisoformat(value)
        # converted here: year 1 or 9999 with an offset overflows, and the schema would raise OverflowError
        return (when.replace(tzinfo=options.default_tz) if when.tzinfo is None else when).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ParseError("invalid_field", f"eventTime: not an ISO 8601 time in range: {value[:64]!r}") from None


def _to_event(t: CloudTrailRecord, record: RawRecord, when: datetime, original: str | None) -> Event:
    # one validation of plain data: building each nested model on its own cost twice as much
    user = _user(t)
    source = _source(t.sourceIPAddress)
    outcome = _outcome(t)
    login = t.eventName == "ConsoleLogin"
    service = service_of(t.eventSource)
    category, kind = classify(t.eventName, service, login, outcome)
    tls, server = _tls(t.tlsDetails)
    account = t.recipientAccountId or (t.userIdentity.accountId if t.userIdentity else None)
    error = {"code": t.errorCode, "message": t.errorMessage} if t.errorCode or t.errorMessage else None
    return Event.model_validate(
        {
            "timestamp": when,
            "message": _message(t, user, outcome),
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": category,
                "type": kind,
                "action": t.eventName,
                "outcome": outcome,
                "dataset": DATASET,
                "module": "cloudtrail",
                "provider": t.eventSource,
                "created": record.received,
                "original": original,
            },
            "source": source,
            "destination": {"domain": server, "address": server} if server else None,
            "user": user,
            "user_agent": {"original": t.userAgent} if t.userAgent else None,
            "tls": tls,
            "cloud": {
                "provider": "aws",
                "region": t.awsRegion,
                "service": {"name": service} if service else None,
                "account": {"id": account} if account else None,
            },
            "error": error,
            "related": _related(source, user, server),
            "secmon": {
                "origin": record.origin,
                "auth": _console_auth(t) if login else None,
                "firewall_rules": firewall_rules(t.eventName, t.requestParameters),
                "logging_config": logging_config(t.eventSource, t.eventName, t.requestParameters),
            },
        }
    )


def _user(t: CloudTrailRecord) -> dict[str, Any] | None:
    """`user.*`: name, id and the IAM user a call acts on."""
    who = t.userIdentity
    # IAM calls on a user (CreateAccessKey, AttachUserPolicy...) name it; elsewhere userName means other things
    target = _str(t.requestParameters, "userName") if t.eventSource == "iam.amazonaws.com" else None
    if who is None:
        return {"target": {"name": target}} if target else None
    name = _user_name(who)
    if name is None and who.principalId is None and target is None:
        return None
    return {"name": name, "id": who.principalId, "target": {"name": target} if target else None}


def _user_name(who: UserIdentity) -> str | None:
    if who.type == "Root":
        return "root"
    if who.type == "AssumedRole":
        issuer = who.sessionContext.sessionIssuer if who.sessionContext else None
        return (issuer.userName if issuer else None) or _arn_name(who.arn)
    if who.userName == HIDDEN_USER:
        return None
    return who.userName or _arn_name(who.arn)


def _arn_name(arn: str | None) -> str | None:
    """`arn:aws:iam::123:user/path/alice` -> alice; None for ARNs without a resource path."""
    if not arn or "/" not in arn:
        return None
    return arn.rsplit("/", 1)[1] or None


def _source(address: str | None) -> dict[str, Any] | None:
    """An IP goes to source.ip; a service name (`ec2.amazonaws.com`) or `AWS Internal` stays text."""
    if not address:
        return None
    ip, domain = _address_kind(address)
    return {"ip": ip, "domain": domain, "address": address}


@lru_cache(maxsize=4096)  # few distinct callers per trail; models are not cached, enrichers mutate them
def _address_kind(address: str) -> tuple[str | None, str | None]:
    try:
        return str(ipaddress.ip_address(address)), None
    except ValueError:
        return None, address if HOST_NAME.match(address) else None


def _outcome(t: CloudTrailRecord) -> str:
    if t.eventName == "ConsoleLogin":
        result = _str(t.responseElements, "ConsoleLogin")
        if result in ("Success", "Failure"):
            return "success" if result == "Success" else "failure"
    return "failure" if t.errorCode else "success"


def _tls(details: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(tls.*, the API host name the client asked for) from `tlsDetails`."""
    version = _str(details, "tlsVersion")
    cipher = _str(details, "cipherSuite")
    host = _str(details, "clientProvidedHostHeader")
    tls = None
    if version or cipher:
        match = TLS_VERSION.match(version or "")
        tls = {
            "version": match.group(2) if match else None,
            "version_protocol": match.group(1).lower() if match else None,
            "cipher": cipher,
        }
    return tls, host if host and HOST_NAME.match(host) else None


def _console_auth(t: CloudTrailRecord) -> dict[str, Any]:
    extra = t.additionalEventData
    mfa_used = (_str(extra, "MFAUsed") or "").lower()
    federated = _str(extra, "SamlProviderArn") is not None or (
        t.userIdentity is not None and t.userIdentity.type in ("AssumedRole", "FederatedUser")
    )
    return {"method": "sso" if federated else "password", "mfa": {"yes": True, "no": False}.get(mfa_used)}


def _related(source: dict[str, Any] | None, user: dict[str, Any] | None, server: str | None) -> dict[str, list[str]]:
    target = user.get("target") if user else None
    names = [n for n in (user.get("name"), target["name"] if target else None) if n] if user else []
    hosts = [h for h in (source["domain"] if source else None, server) if h]
    return {
        "ip": [source["ip"]] if source and source["ip"] else [],
        "user": list(dict.fromkeys(names)),
        "hosts": list(dict.fromkeys(hosts)),
    }


def _message(t: CloudTrailRecord, user: dict[str, Any] | None, outcome: str) -> str:
    who = ((user.get("name") or user.get("id")) if user else None) or (
        t.userIdentity.invokedBy if t.userIdentity else None
    )
    text = f"{t.eventName} ({t.eventSource}) by {who or 'unknown'} from {t.sourceIPAddress or 'unknown'}"
    if outcome == "failure":
        text += f" failed: {t.errorCode or t.errorMessage or 'Failure'}"
    return text


def _str(obj: Any, key: str) -> str | None:
    """obj[key] when obj is a dict and the value a non-empty string of keyword size, else None."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 1024 else None


def split(data: bytes) -> list[bytes]:
    """A `{"Records": [...]}` delivery file -> one JSON record per element; anything else unchanged."""
    if b'"Records"' not in data[:64]:
        return [data]
    try:
        doc = json.loads(data.decode("utf-8"))  # not json.loads(bytes), which also accepts UTF-16/32
    except (ValueError, RecursionError):
        return [data]
    records = doc.get("Records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        return [data]
    try:
        return [_dump(r) for r in records]
    except RecursionError:
        return [data]


def _dump(record: Any) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a \ud800 escape) stays escaped
        return json.dumps(record, separators=(",", ":")).encode("ascii")


def _sniff(first: bytes) -> bool:
    return (
        first.lstrip().startswith(b"{")
        and b'"eventVersion"' in first
        and b'"eventSource"' in first
        and b'"eventName"' in first
    )


NORMALIZER = Normalizer(
    id="cloudtrail",
    title="AWS CloudTrail (S3 delivery files or JSON lines)",
    framing="line",
    parse=parse,
    sniff=_sniff,
    split=split,
    max_line_bytes=MAX_LINE_BYTES,
)
