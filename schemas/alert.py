"""The alert a detector raises: rule, entity (ECS fields), count and provenance."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.event import Cloud, Endpoint, Host, Organization, User
from schemas.types import Keyword, Text, UtcDatetime

Severity = Literal["low", "medium", "high", "critical"]
Maturity = Literal["experimental", "stable", "deprecated"]
MAX_EVENT_IDS = 100
MAX_FINDINGS = 10  # distinct finding sentences an alert lists


class Rule(Strict):
    """ECS `rule.*`: the detector that raised the alert."""

    # frozen: detectors.alerts hands one instance to every alert of a detector (its lists, too,
    # are shared: never change them in place)
    model_config = ConfigDict(frozen=True)

    id: Keyword = Field(description="Detector id (== its file stem).")
    name: Keyword = Field(description="Detector title.")
    version: int = Field(description="Detector version; bumped when its logic changes.")
    maturity: Maturity = Field(description="experimental alerts are indexed but never paged.")
    tags: list[Keyword] = Field(default_factory=list, description="MITRE ATT&CK and policy tags.")
    ruleset: Keyword = Field(
        "secmon",
        description="secmon (its own detectors) or sigma (a Sigma rule: id sigma-<rule uuid>, name its title).",
    )
    reference: list[Keyword] = Field(default_factory=list, description="Where the rule is documented (URLs).")


class AlertState(Strict):
    """Lifecycle and dedup bookkeeping of one alert."""

    id: Keyword = Field(description="Deterministic alert id; also its Elasticsearch _id.")
    status: Literal["open", "resolved"] = Field("open", description="open until the condition clears.")
    severity: Severity = Field(description="low, medium, high or critical.")
    dedup_key: Keyword = Field(description="Entity key findings are deduplicated on.")
    count: int = Field(1, ge=1, description="Findings merged into this alert (incl. suppressed).")
    first_seen: UtcDatetime = Field(description="Time of the first finding.")
    last_seen: UtcDatetime = Field(description="Time of the latest finding.")


class Resource(Strict):
    """What an alert is about when no ECS field names it (not in ECS): a security group, a backup job..."""

    type: Keyword = Field(
        description="Kind: security_group, cloudtrail_trail, backup_job, restore_test_job, "
        "log_source, scan_target, backup_repository, s3_bucket or x509_certificate."
    )
    id: Keyword = Field(description="Its id: sg-0a1b..., the job or source name, the scanned artifact.")


class AnomalyFeature(Strict):
    """One feature that made a behaviour look unusual: what was seen against the entity's normal."""

    name: Keyword = Field(description="Feature name, e.g. country_new, hour_rarity.")
    value: Keyword = Field(description="What this event showed, e.g. RU, 03 local, new.")
    usual: Keyword = Field(description="The entity's normal, e.g. NL, 08-17, 3 known devices.")
    contribution: float = Field(description="Share of the anomaly score this feature explains (0-1).")


class AnomalyDetails(Strict):
    """Why a behaviour model called an event unusual (not in ECS)."""

    score: float = Field(description="Calibrated anomaly score of the event (higher is more unusual).")
    threshold: float = Field(description="Score from which the model alerts (calibrated to the alert budget).")
    model_version: Keyword = Field(description="Version (content digest) of the model that scored it.")
    features: list[AnomalyFeature] = Field(
        default_factory=list, max_length=8, description="Top contributing features, most first."
    )


class AlertProvenance(Strict):
    """What the alert was derived from (and `resource`, the entity no ECS field names)."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this alert schema.")
    event_ids: list[Keyword] = Field(
        default_factory=list, max_length=MAX_EVENT_IDS, description="Ids of the events behind it (latest last)."
    )
    event_count: int = Field(0, description="Events behind the alert, including ids not listed.")
    datasets: list[Keyword] = Field(default_factory=list, description="Datasets of those events.")
    enrichment: list[Keyword] = Field(default_factory=list, description="Enrichers and versions used.")
    resource: Resource | None = Field(None, description="Entity: the resource, when no ECS field names it.")
    findings: list[Text] = Field(
        default_factory=list,
        max_length=MAX_FINDINGS,
        description="The distinct "
        "findings merged into the alert (the first ten), when there is more than one; "
        "`message` is the worst of them (highest severity, then the latest).",
    )
    anomaly: AnomalyDetails | None = Field(
        None,
        description="Behaviour-model alerts: the score and its "
        "explanation (the highest-scoring finding merged into the alert).",
    )


class Alert(Strict):
    """A detection: one per rule and entity per dedup period."""

    timestamp: UtcDatetime = Field(alias="@timestamp", description="Time of the latest finding.")
    message: Text = Field(description="What was detected, in one sentence.")
    rule: Rule = Field(description="The detector.")
    alert: AlertState = Field(description="Status, severity, count, first/last seen.")
    source: Endpoint | None = Field(None, description="Entity: where the activity came from.")
    destination: Endpoint | None = Field(None, description="Entity: the server (ip + port).")
    user: User | None = Field(None, description="Entity: the user.")
    host: Host | None = Field(None, description="Entity: the host.")
    organization: Organization | None = Field(None, description="Entity: the workspace.")
    cloud: Cloud | None = Field(None, description="Entity: the cloud account (and region).")
    secmon: AlertProvenance = Field(default_factory=AlertProvenance, description="Provenance.")
