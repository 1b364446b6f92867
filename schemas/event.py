"""The normalized event: a strict subset of ECS plus secmon's own `secmon.*` fields.

Every normalizer emits this model, every enricher and detector reads it, and the Elasticsearch
index template is generated from it. Field names follow ECS so events, alerts, dashboards and
webhooks use the same name for the same thing.
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import Strict
from schemas.ecs import (  # re-exported: the event's field groups live there
    X509,
    AsOrg,
    AutonomousSystem,
    Cloud,
    CloudAccount,
    CloudService,
    Endpoint,
    ErrorInfo,
    EventMeta,
    Geo,
    GeoPoint,
    Host,
    Http,
    HttpRequest,
    HttpResponse,
    HttpResponseBody,
    Network,
    Organization,
    OsInfo,
    Outcome,
    Package,
    Process,
    Related,
    Threat,
    ThreatEnrichment,
    ThreatFeed,
    ThreatIndicator,
    ThreatMatched,
    Tls,
    TlsHash,
    TlsSide,
    UaDevice,
    UrlInfo,
    User,
    UserAgent,
    UserTarget,
    Vulnerability,
    VulnScanner,
    VulnScore,
    X509Name,
)
from schemas.secmon_fields import (  # re-exported
    AddressScope,
    AddressScopes,
    Auth,
    BucketLifecycle,
    ContextFacts,
    Control,
    Device,
    DeviceType,
    Finding,
    FirewallRule,
    LoggingConfig,
    Origin,
    Posture,
    Secmon,
    Session,
    StaffAccess,
    TicketProblem,
    TrailSelectors,
)
from schemas.types import Text, UtcDatetime

# The event model and every field group it is made of (defined in schemas.ecs and schemas.secmon_fields)
__all__ = [
    "AddressScope",
    "AddressScopes",
    "AsOrg",
    "Auth",
    "AutonomousSystem",
    "BucketLifecycle",
    "Cloud",
    "CloudAccount",
    "CloudService",
    "ContextFacts",
    "Control",
    "Device",
    "DeviceType",
    "Endpoint",
    "ErrorInfo",
    "Event",
    "EventMeta",
    "Finding",
    "FirewallRule",
    "Geo",
    "GeoPoint",
    "Host",
    "Http",
    "HttpRequest",
    "HttpResponse",
    "HttpResponseBody",
    "LoggingConfig",
    "Network",
    "Organization",
    "Origin",
    "OsInfo",
    "Outcome",
    "Package",
    "Posture",
    "Process",
    "Related",
    "Secmon",
    "Session",
    "StaffAccess",
    "Threat",
    "ThreatEnrichment",
    "ThreatFeed",
    "ThreatIndicator",
    "ThreatMatched",
    "TicketProblem",
    "Tls",
    "TlsHash",
    "TlsSide",
    "TrailSelectors",
    "UaDevice",
    "UrlInfo",
    "User",
    "UserAgent",
    "UserTarget",
    "VulnScanner",
    "VulnScore",
    "Vulnerability",
    "X509",
    "X509Name",
]


class Event(Strict):
    """A normalized security event (ECS)."""

    timestamp: UtcDatetime = Field(alias="@timestamp", description="When the event happened (UTC).")
    message: Text | None = Field(None, description="Human-readable summary or the log message.")
    event: EventMeta = Field(description="ECS event.*")
    source: Endpoint | None = Field(None, description="Where the activity came from.")
    destination: Endpoint | None = Field(None, description="Where the activity went.")
    user: User | None = Field(None, description="The acting user.")
    user_agent: UserAgent | None = Field(None, description="Client user agent.")
    host: Host | None = Field(None, description="Observed or affected host.")
    organization: Organization | None = Field(None, description="Customer workspace.")
    tls: Tls | None = Field(None, description="TLS details.")
    cloud: Cloud | None = Field(None, description="Cloud provider details.")
    network: Network | None = Field(None, description="Network details.")
    url: UrlInfo | None = Field(None, description="Requested URL.")
    http: Http | None = Field(None, description="HTTP request/response.")
    process: Process | None = Field(None, description="Process that logged the event.")
    error: ErrorInfo | None = Field(None, description="Error reported by the source.")
    vulnerability: Vulnerability | None = Field(None, description="Vulnerability of a finding.")
    package: Package | None = Field(None, description="Affected package of a finding.")
    threat: Threat | None = Field(None, description="Threat-intel matches.")
    related: Related = Field(default_factory=Related, description="Pivot fields.")
    secmon: Secmon = Field(description="secmon's own fields.")
