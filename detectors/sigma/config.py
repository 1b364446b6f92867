"""The `detection.sigma` settings section: where the rules are and how they run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["stable", "test", "experimental", "deprecated", "unsupported"]


class SigmaSettings(BaseModel):
    """Sigma rules evaluated on every event, beside secmon's own detectors (off while rules_dirs is empty)."""

    model_config = ConfigDict(extra="forbid")

    rules_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders of Sigma rules (*.yml, *.yaml, "
        "recursively), loaded unmodified; empty: no Sigma rules run.",
    )
    shadow_statuses: list[Status] = Field(
        ["experimental"],
        description="Rules with these statuses run in "
        "shadow mode: their alerts are indexed with maturity experimental "
        "and never paged.",
    )
    skip_statuses: list[Status] = Field(
        ["deprecated", "unsupported"], description="Rules with these statuses are not run (listed as skipped)."
    )
    disabled: list[str] = Field(default_factory=list, description="Rule ids (uuid, or sigma-<uuid>) not to run.")
    dedup_minutes: int = Field(
        60,
        ge=1,
        description="Matches of one rule for one entity (user, source, host, "
        "workspace, account) within this period update one alert.",
    )
    placeholders: dict[str, list[str]] = Field(
        default_factory=dict, description="Values of the %name% placeholders rules use with the expand modifier."
    )
