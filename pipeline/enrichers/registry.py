"""The enrichers secmon applies, in order, registered in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.enrichers import context as context_tables
from pipeline.enrichers import device, geoip, threat_intel
from pipeline.enrichers.base import Enricher

if TYPE_CHECKING:
    from pipeline.settings import SecmonSettings


def default_enrichers(settings: SecmonSettings) -> list[Enricher]:
    """The enrichers the configuration asks for, in the order they must run."""
    device.load_parser()
    enrichers = [device.ENRICHER, geoip.build(settings.enrich)]
    intel = threat_intel.build(settings.enrich)  # None when no list is configured
    if intel is not None:
        enrichers.append(intel)
    context = context_tables.build(settings.enrich)  # None without enrich.context_dir (the worker adds topics)
    if context is not None:
        enrichers.append(context)
    return enrichers
