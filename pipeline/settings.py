"""Configuration: env vars (`SECMON_...`) over a YAML file (`--config` / `SECMON_CONFIG`) over defaults.

Nested sections split on the first `_` after the prefix: `SECMON_KAFKA_BOOTSTRAP` sets
`kafka.bootstrap`, `SECMON_ES_URL` sets `es.url`, `SECMON_ES_API_KEY` sets `es.api_key`.
Built once, where the app is built; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import timezone
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from detectors.registry import DetectorConfig
from detectors.sigma.config import SigmaSettings
from pipeline.delivery.config import DeliverySettings
from pipeline.normalizers.base import ParseOptions
from pipeline.service.config import ServiceSettings

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("secmon_config_file", default=None)


class Section(BaseModel):
    """A strict settings section: a typo in the YAML is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class KafkaSettings(Section):
    """How to reach Kafka (TLS and SASL supported)."""

    bootstrap: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Use SSL or SASL_SSL in production."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism."
    )
    sasl_username: str | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (env or secrets file only).")
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers.")
    ssl_certfile: Path | None = Field(None, description="Client certificate (mTLS).")
    ssl_keyfile: Path | None = Field(None, description="Client key (mTLS).")
    topic_prefix: str = Field("secmon", pattern=r"^[a-zA-Z0-9._-]{1,100}$", description="Prefix of every topic.")
    partitions: int = Field(4, ge=1, description="Partitions of the topics secmon creates.")
    replication_factor: int = Field(1, ge=1, description="Replication of the topics secmon creates.")
    retention_hours: int = Field(
        24,
        ge=1,
        description="retention.ms of the data topics secmon creates (raw, events, "
        "detect, alerts, dead letters): they carry customer data, which the policy deletes "
        "within 24 h; a worker stopped longer than this loses what it had not read.",
    )
    session_timeout_seconds: float = Field(
        10.0,
        gt=1,
        description="A worker silent this long leaves the group: a SIGKILLed worker's partitions wait this "
        "long before another worker (or its own restart) takes them. Heartbeats come from Faust's consumer "
        "thread, so a busy worker still sends them.",
    )


class EsSettings(Section):
    """How to reach Elasticsearch and how to write to it."""

    url: str = Field("http://127.0.0.1:9200", description="Node URL(s), comma-separated.")
    api_key: SecretStr | None = Field(None, description="API key (preferred over basic auth).")
    username: str | None = Field(None, description="Basic-auth user.")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    ca_certs: Path | None = Field(None, description="CA bundle to verify the nodes.")
    verify_certs: bool = Field(True, description="Never disable outside a lab.")
    index_prefix: str = Field("secmon", pattern=r"^[a-z0-9._-]{1,64}$", description="Prefix of every index.")
    bulk_max_bytes: int = Field(8 * 1024 * 1024, description="Upper bound of one bulk request body.")
    bulk_max_docs: int = Field(2000, description="Upper bound of documents per bulk request.")
    max_retries: int = Field(8, description="Retries of a 429/5xx document before it is dead-lettered.")
    request_timeout: float = Field(30.0, description="Seconds per request.")


class KibanaSettings(Section):
    """Where `secmon dashboards import|export` finds Kibana (the API key: env or secrets file only)."""

    url: str = Field("http://127.0.0.1:5601", description="Kibana base URL (--kibana-url overrides it).")
    api_key: SecretStr | None = Field(
        None,
        description="Kibana API key, the base64 `encoded` value (env "
        "SECMON_KIBANA_API_KEY or secrets file secmon_kibana); unset: no auth.",
    )
    space: str | None = Field(None, pattern=r"^[a-z0-9_-]{1,100}$", description="Kibana space; unset: the default.")
    request_timeout: float = Field(60.0, gt=0, description="Seconds per Kibana request.")
    ca_certs: Path | None = Field(None, description="CA bundle to verify Kibana's TLS certificate.")


class ParseSettings(Section):
    """How raw records are read."""

    default_year: int | None = Field(None, description="Year of syslog lines without one (default: current).")
    timezone: str = Field("UTC", description="Timezone of timestamps without an offset.")
    keep_original: bool = Field(False, description="Store the raw line in event.original.")
    max_record_bytes: int = Field(1024 * 1024, description="Longer records are dead-lettered as too_large.")

    def options(self) -> ParseOptions:
        """The ParseOptions normalizers receive."""
        tz = timezone.utc if self.timezone.upper() == "UTC" else ZoneInfo(self.timezone)
        return ParseOptions(default_year=self.default_year, default_tz=tz, keep_original=self.keep_original)


class ShipperSettings(Section):
    """The `secmon ship` file tailer."""

    state_dir: Path = Field(Path.home() / ".local/state/secmon", description="Where read positions are kept.")
    batch_size: int = Field(500, description="Records per producer flush.")
    poll_seconds: float = Field(0.5, description="How often a file at EOF is checked for growth.")


class EnrichSettings(Section):
    """What enrichment adds to every event (GeoIP/ASN, user agents, context tables, threat intel)."""

    geoip_city_db: Path | None = Field(None, description="MaxMind GeoIP2/GeoLite2 City .mmdb (city, coordinates).")
    geoip_asn_db: Path | None = Field(None, description="MaxMind GeoLite2 ASN .mmdb.")
    geoip_builtin: bool = Field(True, description="Use the database a PyPI package ships when no .mmdb is set.")
    context_dir: Path | None = Field(None, description="Directory of context tables (users, assets, tickets, ports).")
    threat_intel: list[Path] = Field(default_factory=list, description="IP/CIDR indicator lists (text or CSV).")
    cache_size: int = Field(65536, description="Entries kept in each lookup cache.")


class DetectionSettings(Section):
    """The detection engine."""

    lateness_seconds: int = Field(300, description="How late (event time) an event may arrive and still count.")
    tick_seconds: int = Field(60, ge=1, description="How often timed (deadline, heartbeat) detectors are checked.")
    detect_bundles: bool = Field(
        True,
        description="The index_events agent (it routes each events batch) sends one detect message per partition "
        "and batch (a bundle); false: one per event and entity key, the only form workers before bundles read "
        "(upgrading such workers one by one: start the new ones with false, switch to true once none of the old "
        "ones runs).",
    )
    detectors: dict[str, DetectorConfig] = Field(default_factory=dict, description="Per-detector overrides.")
    sigma: SigmaSettings = Field(
        default_factory=SigmaSettings, description="Sigma rules run as detectors (rules_dirs; off while empty)."
    )


class AnomalySettings(Section):
    """Behaviour models (`secmon anomaly train`, `anomaly_*` detectors); budgets are detector params."""

    model: Path | None = Field(
        None,
        description="Model file the anomaly detectors score with (trained by `secmon "
        "anomaly train` or the worker); none: each detector learns from the stream it reads.",
    )
    shadow_model: Path | None = Field(
        None,
        description="A second model scored beside the live one: its alerts are "
        "experimental (indexed, never paged), to compare a new model before using it.",
    )
    key: SecretStr | None = Field(
        None,
        description="Key that signs and verifies model files (env or secrets file "
        "only); unset: the key in key_file, created on the first training.",
    )
    key_file: Path = Field(
        Path.home() / ".local/state/secmon/anomaly-model.key",
        description="Local model key when anomaly.key is unset (mode 0600).",
    )
    retrain_hours: float = Field(
        24.0,
        ge=0,
        description="The worker's leader retrains `model` from Elasticsearch "
        "history this often (0: never; train with the CLI instead).",
    )
    history_days: int = Field(30, ge=1, le=400, description="Days of Elasticsearch history a training reads.")
    reload_seconds: float = Field(60.0, gt=0, description="How often every worker checks `model` for a new version.")

    def signing_key(self, create: bool = False) -> bytes:
        """The key model files are signed and verified with."""
        from detectors.anomaly.artifact import local_key

        if self.key is not None:
            return self.key.get_secret_value().encode()
        return local_key(self.key_file, create)


class LifecycleSettings(Section):
    """Retention, snapshots, legal holds and workspace purge (`secmon lifecycle|backup|hold|purge`)."""

    retention_days: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Days kept per event dataset (e.g. app.signin), or `alerts` / `deadletter`; others: the default.",
    )
    default_retention_days: int = Field(365, ge=1, description="Days kept for datasets not listed.")
    snapshot_repository: str = Field(
        "secmon-backups",
        pattern=r"^[a-z0-9._-]{1,100}$",
        description="Snapshot repository name (registered by `secmon backup run`).",
    )
    snapshot_type: str = Field("fs", description="Repository type: fs here; s3, gcs, azure... in production.")
    snapshot_location: str = Field(
        "secmon", description="fs: directory under the node's path.repo (relative = below its first entry)."
    )
    snapshot_settings: dict[str, str] = Field(
        default_factory=dict, description="Other repository settings (bucket, base_path, client...)."
    )
    snapshot_retention_days: int = Field(14, ge=1, description="Snapshots older than this are pruned unless held.")
    restore_sample: int = Field(200, ge=0, description="Documents whose checksums `backup verify` compares.")
    audit_index: str = Field("audit", pattern=r"^[a-z0-9._-]{1,60}$", description="Audit records: <prefix>-<this>.")
    receipts_index: str = Field(
        "receipts", pattern=r"^[a-z0-9._-]{1,60}$", description="Deletion receipts: <prefix>-<this>."
    )
    holds_index: str = Field("holds", pattern=r"^[a-z0-9._-]{1,60}$", description="Legal holds: <prefix>-<this>.")
    emit_to_kafka: bool = Field(
        True,
        description="Also send control events to <topic prefix>-raw-control, and "
        "ask the workers (through <topic prefix>-purge) to forget a purged workspace.",
    )
    forget_key: SecretStr | None = Field(
        None,
        description="Key of the digests a purge's forget request carries "
        "(env or secrets file only; the same on the purge CLI and the workers). "
        "Unset: a built-in key, and the digests can be reversed by guessing names.",
    )
    schedule: bool = Field(
        True,
        description="The worker runs retention, backups with prune, and restore tests on "
        "the schedule below (on the Faust leader only); off: run the commands from cron.",
    )
    retention_every_minutes: int = Field(60, ge=1, description="Minutes between two retention runs in the worker.")
    backup_at: str | None = Field(
        "02:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Daily backup time "
        "(HH:MM, UTC) in the worker, followed by a prune; null: no backups from the worker.",
    )
    verify_every_days: int = Field(
        7,
        ge=0,
        le=90,
        description="Days between restore tests in the worker (policy: at most 90); 0: none from the worker.",
    )
    retry_minutes: int = Field(
        60, ge=1, description="A failed scheduled backup or restore test is retried after this many minutes."
    )
    schedule_check_seconds: float = Field(60.0, gt=0, description="How often the worker checks what is due.")


class SecmonSettings(BaseSettings):
    """All of secmon's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="SECMON_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        hide_input_in_errors=True,  # a bad value of a secret-holding setting must not be printed
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    es: EsSettings = Field(default_factory=EsSettings)
    kibana: KibanaSettings = Field(default_factory=KibanaSettings)
    parse: ParseSettings = Field(default_factory=ParseSettings)
    shipper: ShipperSettings = Field(default_factory=ShipperSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    app_id: str = Field("secmon", description="Faust application id (consumer group).")
    metrics_port: int = Field(0, description="Port of /metrics; 0 = off.")
    metrics_host: str = Field("127.0.0.1", description="Address /metrics listens on (0.0.0.0 in a container).")
    log_level: str = Field("INFO", description="Python logging level.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ):
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings, file_secret_settings)
        path = _CONFIG_FILE.get() or os.environ.get("SECMON_CONFIG")
        if path:
            sources += (YamlConfigSettingsSource(settings_cls, yaml_file=path),)
        return sources


def load_settings(config: Path | None = None) -> SecmonSettings:
    """Build the settings once; `config` names the YAML file (else SECMON_CONFIG, else none)."""
    if config is not None:
        if not config.is_file():
            raise FileNotFoundError(f"config file {config} does not exist; pass an existing YAML file to --config")
    elif os.environ.get("SECMON_CONFIG") and not Path(os.environ["SECMON_CONFIG"]).is_file():
        raise FileNotFoundError(
            f"SECMON_CONFIG={os.environ['SECMON_CONFIG']} names no file; point it at an existing YAML file or unset it"
        )
    _check_yaml(config or (Path(os.environ["SECMON_CONFIG"]) if os.environ.get("SECMON_CONFIG") else None))
    token = _CONFIG_FILE.set(config)
    try:
        return SecmonSettings(_secrets_dir=os.environ.get("SECMON_SECRETS_DIR") or None)
    finally:
        _CONFIG_FILE.reset(token)


def _check_yaml(path: Path | None) -> None:
    """A config file that parses to a mapping (a YAML error carries its file:line)."""
    if path is None:
        return
    import yaml

    with open(path, encoding="utf-8") as stream:
        try:
            data = yaml.safe_load(stream)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
            raise ValueError(f"{where}: not valid YAML: {exc.problem or exc}; fix the file at that line") from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(
            f"config file {path}: the top level must be sections (kafka:, es:, detection: ...), "
            f"not a {type(data).__name__}; see docs/configuration.md"
        )
