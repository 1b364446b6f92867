"""Timer: when the threat-intel lists reload with new indicators, retro-hunt them in Elasticsearch."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pipeline.kafka.codec import dumps

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=30)


def register(rt: Runtime) -> None:
    """Hook the threat-intel enricher's reloads and hunt each batch of new indicators once."""
    intel = next((getattr(e, "intel", None) for e in rt.enrichers if getattr(e, "intel", None) is not None), None)
    if intel is None:
        return
    pending: set = set()
    intel.on_new = pending.update

    @rt.app.timer(interval=60.0)
    async def retrohunt() -> None:
        # quiet streams still pick up list changes: this starts the check beside the loop (never waits)
        # and swaps in a reload built since; `pending` fills at that swap, once per reload
        intel.maybe_reload()
        if not pending:
            return
        from pipeline.retrohunt import hunt
        from pipeline.sinks.elasticsearch import client

        batch = set(pending)
        async with client(rt.settings.es) as es:
            alerts = await hunt(es, rt.settings.es.index_prefix, batch, datetime.now(timezone.utc) - LOOKBACK)
        for alert in alerts:
            await rt.topics["alerts"].send(key=alert.alert.id.encode(), value=dumps(alert.to_doc()))
        pending.difference_update(batch)
        log.info("retro-hunt of %d new indicator(s): %d alert(s)", len(batch), len(alerts))
