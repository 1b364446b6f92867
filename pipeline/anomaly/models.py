"""Which models the anomaly detectors score with: the configured files, loaded, verified, hot-reloaded.

A file that fails verification is refused with the reason, counted, and the detectors keep the
last good model (or keep learning when there was none): a bad file never stops detection.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from detectors.anomaly.artifact import Bundle, ModelError, load
from detectors.anomaly.kinds import install
from detectors.base import Detector
from pipeline.settings import AnomalySettings

log = logging.getLogger(__name__)


@dataclass
class ModelWatcher:
    """Loads the configured model files into the detectors and reloads them when they change."""

    settings: AnomalySettings
    configured: Sequence[tuple[Detector, BaseModel]]
    versions: dict[str, str] = field(default_factory=dict)  # "live"/"shadow" -> version in use
    _seen: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)
    failures: int = 0

    def load_now(self) -> list[str]:
        """Load the configured files, raising ModelError when one is unusable (start-up: fail fast)."""
        if self.settings.model is None:
            return []
        self._changed()  # remember what was loaded, so check() reloads only a newer file
        key = self.settings.signing_key()
        live = load(self.settings.model, key)
        shadow = load(self.settings.shadow_model, key) if self.settings.shadow_model else None
        return self._install(live, shadow)

    def check(self) -> list[str] | None:
        """Reload a file that changed since the last look; None when nothing changed or it failed."""
        if self.settings.model is None or not self._changed():
            return None
        try:
            return self.load_now()
        except ModelError as exc:
            self.failures += 1
            log.error(
                "anomaly model not reloaded, still scoring with version %s: %s",
                self.versions.get("live", "none (learning)"),
                exc,
            )
            return None

    def _changed(self) -> bool:
        changed = False
        for name in ("model", "shadow_model"):
            path = getattr(self.settings, name)
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino) if st else None
            changed |= self._seen.get(name) != stamp
            self._seen[name] = stamp
        return changed

    def _install(self, live: Bundle, shadow: Bundle | None) -> list[str]:
        kinds = install(self.configured, live, shadow)
        self.versions["live"] = next(iter(live.values())).version
        if shadow:
            self.versions["shadow"] = next(iter(shadow.values())).version
        log.info(
            "anomaly models in use: %s (version %s)%s",
            ", ".join(kinds) or "none",
            self.versions["live"],
            f", shadow {self.versions['shadow']}" if shadow else "",
        )
        return kinds
