"""Every receiver kind, registered in one place: kind (== module stem) -> its render function."""

from __future__ import annotations

from pipeline.delivery.receivers import pagerduty, slack, webhook
from pipeline.delivery.receivers.base import Renderer

RENDERERS: dict[str, Renderer] = {"webhook": webhook.render, "slack": slack.render, "pagerduty": pagerduty.render}


def renderer(kind: str) -> Renderer:
    """The render function of a receiver kind (webhook, slack, pagerduty)."""
    return RENDERERS[kind]
