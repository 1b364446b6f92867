"""The enrichers secmon applies, in order, registered in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.enrichers import device
from pipeline.enrichers.base import Enricher

if TYPE_CHECKING:
    from pipeline.settings import SecmonSettings


def default_enrichers(settings: SecmonSettings) -> list[Enricher]:
    """The enrichers the configuration asks for, in the order they must run."""
    del settings  # GeoIP, context and threat-intel enrichers read their databases from it
    return [device.ENRICHER]
