"""Slack incoming webhook: a Block Kit message per notification, linking to Kibana Discover.

Alert text comes from untrusted input (user names, hosts): it is escaped for Slack mrkdwn
(`&`, `<`, `>`), so a crafted user name cannot ping `<!channel>` or forge a link.
Slack answers 200 `ok`; 4xx (invalid_payload, channel_not_found, ...) are permanent, 429 carries
Retry-After. The webhook URL is the credential: it is a SecretStr and never logged.
"""

from __future__ import annotations

import json

from pipeline.delivery.config import ReceiverSettings
from pipeline.delivery.receivers.base import USER_AGENT, HttpRequest, Links, Notification, entity_of
from schemas.alert import Alert

MAX_LISTED = 10  # alerts listed in one message (Block Kit allows 50 blocks; on-call reads the top ones)
ICONS = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
SEVERITY_ORDER = ("low", "medium", "high", "critical")


def render(notification: Notification, cfg: ReceiverSettings, links: Links, now: float) -> HttpRequest:
    """The POST for one attempt (same body every time)."""
    assert cfg.url is not None  # guaranteed by ReceiverSettings validation
    body = json.dumps(message(notification, links), separators=(",", ":"), ensure_ascii=False).encode()
    return HttpRequest(
        url=cfg.url.get_secret_value(),
        body=body,
        headers={"content-type": "application/json", "user-agent": USER_AGENT},
    )


def message(n: Notification, links: Links) -> dict:
    """The Block Kit message: header, one section per alert (top 10), a Kibana button, context."""
    listed = n.alerts[:MAX_LISTED]
    worst = max((a.alert.severity for a in n.alerts), key=SEVERITY_ORDER.index, default="low")
    rules = sorted({a.rule.name for a in n.alerts})
    title = ":white_check_mark: RESOLVED" if n.status == "resolved" else f"{ICONS[worst]} {worst.upper()}"
    title += f" · {len(n.alerts) + n.truncated} alert{'s' if len(n.alerts) + n.truncated != 1 else ''} · {rules[0]}"
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": _alert_text(a, a.alert.id in n.changed)}} for a in listed
    ]
    more = len(n.alerts) - len(listed) + n.truncated
    if more:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more in this group"}]})
    url = links.discover(listed)
    if url and len(url) <= 3000:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "url": url,
                        "action_id": "open_kibana",
                        "text": {"type": "plain_text", "text": "Open in Kibana"},
                    }
                ],
            }
        )
    group = ", ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items())) or "all alerts"
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": escape(f"secmon · receiver {n.receiver} · route {n.route} · group {group}")[:2000],
                }
            ],
        }
    )
    return {"text": escape(f"{title} — {listed[0].message}" if listed else title)[:3000], "blocks": blocks}


def _alert_text(alert: Alert, changed: bool) -> str:
    a = alert.alert
    workspace = alert.organization.id if alert.organization and alert.organization.id else None
    facts = [f"`{escape(alert.rule.id)}`", a.severity, f"x{a.count}", escape(entity_of(alert))]
    if workspace:
        facts.append(f"workspace {escape(workspace)}")
    facts.append(f"first {a.first_seen:%Y-%m-%d %H:%M:%SZ}, last {a.last_seen:%H:%M:%SZ}")
    status = " (resolved)" if a.status == "resolved" else (" (new)" if changed else "")
    return f"*{escape(alert.message)}*{status}\n" + " · ".join(facts)[:2800]


def escape(text: str) -> str:
    """Escape Slack mrkdwn control characters (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
