"""Application sign-in events: one JSON object per line (format documented in README)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from pipeline.normalizers.base import Normalizer, ParseOptions, RawRecord, decode_utf8, load_json_object, validate
from schemas.bounds import CutAtBounds
from schemas.event import Event
from schemas.ids import event_id, record_key
from schemas.types import IP, Keyword, LongKeyword, UtcDatetime

DATASET = "app.signin"


class AppSignin(CutAtBounds):
    """One sign-in attempt as the application logs it (unknown keys are ignored, never indexed)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    timestamp: UtcDatetime = Field(description="ISO 8601 instant with offset.")
    user: Keyword = Field(min_length=1, description="Login name (e-mail) as typed.")
    user_id: Keyword | None = Field(None, description="Stable user id when the account exists.")
    workspace: Keyword | None = Field(None, description="Workspace (organization) id.")
    outcome: Literal["success", "failure"] = Field(description="Result of the attempt.")
    failure_reason: Keyword | None = Field(None, description="bad_password, unknown_user, locked, mfa_failed...")
    source_ip: IP = Field(description="Client IP as seen by the app (after trusted proxies).")
    user_agent: LongKeyword | None = Field(None, description="User-Agent header.")
    auth_method: Keyword = Field("password", description="password, sso, passkey, magic_link, oauth.")
    mfa_used: bool = Field(False, description="Whether a second factor was verified.")
    mfa_method: Keyword | None = Field(None, description="totp, webauthn, sms, push.")
    session_id: Keyword | None = Field(None, description="Session id issued on success.")


def parse(record: RawRecord, options: ParseOptions) -> list[Event]:
    """One JSON line -> one authentication event."""
    text = decode_utf8(record.data)
    signin = validate(AppSignin, load_json_object(text))
    return [_to_event(signin, record, text if options.keep_original else None)]


def _to_event(s: AppSignin, record: RawRecord, original: str | None) -> Event:
    # one validation of plain data: building each nested model on its own cost twice as much
    return Event.model_validate(
        {
            "timestamp": s.timestamp,
            "message": f"sign-in {s.outcome} for {s.user} from {s.source_ip}",
            "event": {
                "id": event_id(record_key(record.origin, record.data), 0),
                "category": ["authentication"],
                "type": ["start"] if s.outcome == "success" else ["info"],
                "action": "user_login",
                "outcome": s.outcome,
                "reason": s.failure_reason,
                "dataset": DATASET,
                "module": "app_signin",
                "provider": "app",
                "created": record.received,
                "original": original,
            },
            "source": {"ip": s.source_ip, "address": s.source_ip},
            "user": {"name": s.user, "id": s.user_id},
            "user_agent": {"original": s.user_agent} if s.user_agent else None,
            "organization": {"id": s.workspace} if s.workspace else None,
            "related": {"ip": [s.source_ip], "user": [s.user]},
            "secmon": {
                "origin": record.origin,
                "auth": {"method": s.auth_method, "mfa": s.mfa_used, "mfa_method": s.mfa_method},
                "session": {"id": s.session_id} if s.session_id else None,
            },
        }
    )


def _sniff(first: bytes) -> bool:
    return first.lstrip().startswith(b"{") and b'"source_ip"' in first and b'"outcome"' in first


NORMALIZER = Normalizer(
    id="app_signin", title="Application sign-ins (JSON lines)", framing="line", parse=parse, sniff=_sniff
)
