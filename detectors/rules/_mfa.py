"""Shared logic of the "signed in without MFA" detectors (application and cloud console).

Stateless: each successful sign-in whose `secmon.auth.mfa` is False (not merely unknown) where
the policy requires a second factor is one finding; repeats for the same account within the
detector's dedup period update one alert.
"""

from __future__ import annotations

from detectors.base import Finding
from detectors.rules._signin import ip_of, user_entity
from schemas.event import Event


def without_mfa(event: Event) -> bool:
    """True for a successful sign-in that states no second factor was used."""
    auth = event.secmon.auth
    return event.event.outcome == "success" and auth is not None and auth.mfa is False


def user_key(event: Event) -> str | None:
    """The account a sign-in is for: user.name, else user.id (None when neither is known)."""
    user = event.user
    return (user.name or user.id) if user else None


def finding(event: Event, where: str) -> Finding:
    """One sign-in without MFA as a finding; `where` says into what (app workspace, AWS account)."""
    method = event.secmon.auth.method if event.secmon.auth else None
    return Finding(
        message=f"{user_key(event)} signed in to {where} from {ip_of(event)} without MFA"
        + (f" (method {method})" if method else ""),
        entity=user_entity(event),
        timestamp=event.timestamp,
        event_ids=(event.event.id,),
        datasets=(event.event.dataset,),
    )
