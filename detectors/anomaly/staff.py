"""Staff access behaviour: which workspaces an employee opens, how much, when, and with what reason.

Peers are the employee's team (users context table): a workspace the team works on is less
surprising than one nobody on the team ever opened.
"""

from __future__ import annotations

import math

from detectors.anomaly.behaviour import Behaviour, Observation, Peers, State
from detectors.anomaly.profile import WEEKDAYS, bump, local_time, novelty, rarity, remember, usual_range
from detectors.rules._staff import access_text
from schemas.event import Event

FEATURES = (
    "hour_rarity",
    "weekday_rarity",
    "workspace_new",
    "volume",
    "workspaces_today",
    "without_ticket",
    "action_new",
)
MAX_WORKSPACES = 32
EWMA = 0.1  # weight of the newest observation in the usual volume


def observe(state: State | None, event: Event, peers: Peers) -> tuple[State, Observation]:
    """Compare one staff access with the employee's profile, then learn it."""
    p = state or {
        "v": 1,
        "n": 0,
        "h": [0] * 24,
        "d": [0] * 7,
        "ws": [],
        "act": [],
        "vol": 0.0,
        "day": None,
        "today": [],
        "daily": 1.0,
    }
    known = event.secmon.context
    local = local_time(event.timestamp, known.user_timezone if known else None)
    access = event.secmon.staff_access
    ws = event.organization.id if event.organization and event.organization.id else None
    team = known.user_team if known and known.user_team else None
    records = access.record_count if access and access.record_count is not None else 0
    action = access.action if access and access.action else "access"
    day = local.date().isoformat()
    today = p["today"] if p["day"] == day else []
    log_records = math.log10(1 + records)
    volume = max(0.0, min(3.0, log_records - p["vol"])) if p["n"] else 0.0
    distinct_today = len(set(today) | ({ws} if ws else set()))
    ticket = known.ticket_valid if known else None
    vector = (
        rarity(p["h"], local.hour),
        rarity(p["d"], local.weekday(), spread=False),
        novelty(ws is None or ws in p["ws"], peers.knows(team, "ws", ws)),
        volume,
        max(0.0, min(3.0, math.log2(distinct_today / max(1.0, p["daily"])))),
        0.0 if ticket else 0.5 if ticket is None else 1.0,
        0.0 if p["n"] == 0 or action in p["act"] else 1.0,
    )

    def facts() -> dict[str, tuple[str, str]]:  # the profile before this event: `learned` is a copy
        return {
            "hour_rarity": (f"{local.hour:02d}h local", usual_range(p["h"])),
            "weekday_rarity": (WEEKDAYS[local.weekday()], usual_range(p["d"], 0.08)),
            "workspace_new": (ws or "unknown", f"{len(p['ws'])} workspaces opened before"),
            "volume": (f"{records:,} records", f"about {10 ** p['vol'] - 1:,.0f} records"),
            "workspaces_today": (f"{distinct_today} workspaces today", f"about {p['daily']:.1f} a day"),
            "without_ticket": (
                "no valid ticket" if ticket is False else "ticket unknown" if ticket is None else "ticket",
                "a valid ticket",
            ),
            "action_new": (action, ", ".join(p["act"]) or "none"),
        }

    daily = p["daily"] if p["day"] in (None, day) else (1 - EWMA) * p["daily"] + EWMA * len(set(p["today"]))
    learned = {
        **p,
        "n": min(p["n"] + 1, 400),
        "h": bump(p["h"], local.hour),
        "d": bump(p["d"], local.weekday()),
        "ws": remember(p["ws"], ws, MAX_WORKSPACES) if ws else p["ws"],
        "act": remember(p["act"], action, 6),
        "vol": log_records if p["n"] == 0 else (1 - EWMA) * p["vol"] + EWMA * log_records,
        "day": day,
        "today": remember(today, ws, MAX_WORKSPACES) if ws else today,
        "daily": daily,
    }
    peer_values = ((team, "ws", ws),) if team and ws else ()
    return learned, Observation(vector=vector, facts=facts, history=p["n"], peer_values=peer_values)


def describe(event: Event) -> str:
    """The access in a few words for the alert message."""
    return f"staff access: {access_text(event)}"


GROUPS = {
    "hour_rarity": "when",
    "weekday_rarity": "when",
    "workspace_new": "what",
    "workspaces_today": "what",
    "volume": "volume",
    "without_ticket": "why",
    "action_new": "how",
}
STAFF = Behaviour(
    kind="staff_access",
    detector="anomaly_staff_access",
    features=FEATURES,
    observe=observe,
    groups=GROUPS,
    describe=describe,
)
