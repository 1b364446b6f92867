"""The normalized event: a strict subset of ECS plus secmon's own `secmon.*` fields.

Every normalizer emits this model, every enricher and detector reads it, and the Elasticsearch
index template is generated from it. Field names follow ECS so events, alerts, dashboards and
webhooks use the same name for the same thing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.types import IP, Keyword, LongKeyword, Stored, Text, UtcDatetime

Outcome = Literal["success", "failure", "unknown"]
DeviceType = Literal["desktop", "mobile", "tablet", "bot", "cli", "unknown"]
AddressScope = Literal["public", "private", "loopback", "link_local", "multicast", "documentation", "reserved",
                       "unspecified", "malformed"]
TicketProblem = Literal["unknown", "other_workspace", "other_employee", "expired", "not_yet_valid"]


class EventMeta(Strict):
    """ECS `event.*`: what happened, from which dataset, with which outcome."""

    id: Keyword = Field(description="Deterministic id of this event; also its Elasticsearch _id.")
    kind: Literal["event", "alert", "state", "metric"] = Field("event", description="ECS event.kind.")
    category: list[Keyword] = Field(default_factory=list, description="ECS event.category values.")
    type: list[Keyword] = Field(default_factory=list, description="ECS event.type values.")
    action: Keyword | None = Field(None, description="Source-specific action, e.g. ssh_login.")
    outcome: Outcome | None = Field(None, description="success, failure or unknown.")
    dataset: Keyword = Field(description="secmon dataset, e.g. app.signin; picks the index.")
    module: Keyword = Field(description="Normalizer that produced the event.")
    provider: Keyword | None = Field(None, description="Original producer, e.g. sshd, cloudtrail.")
    reason: Keyword | None = Field(None, description="Why the event happened, if the source says.")
    code: Keyword | None = Field(None, description="Source error or event code.")
    severity: int | None = Field(None, description="Numeric severity given by the source.")
    created: UtcDatetime | None = Field(None, description="When secmon first read the record.")
    ingested: UtcDatetime | None = Field(None, description="When the event reached the store.")
    start: UtcDatetime | None = Field(None, description="Start of an event that spans time.")
    end: UtcDatetime | None = Field(None, description="End of an event that spans time.")
    duration: int | None = Field(None, description="Duration in nanoseconds (e.g. request time).")
    original: Stored | None = Field(None, description="The raw line, kept only when configured.")


class Geo(Strict):
    """ECS geo fields attached by the GeoIP enricher."""

    country_iso_code: Keyword | None = Field(None, description="ISO 3166 alpha-2 country.")
    country_name: Keyword | None = Field(None, description="Country name.")
    city_name: Keyword | None = Field(None, description="City name.")
    region_name: Keyword | None = Field(None, description="Region or state.")
    location: GeoPoint | None = Field(None, description="Coordinates of the address.")
    accuracy_radius_km: int | None = Field(None, description="MaxMind accuracy radius.")


class GeoPoint(Strict):
    """A latitude/longitude pair (ES geo_point)."""

    lat: float = Field(description="Latitude in degrees.")
    lon: float = Field(description="Longitude in degrees.")


class AsOrg(Strict):
    """ECS `as.organization`."""

    name: Keyword | None = Field(None, description="Name of the autonomous system's owner.")


class AutonomousSystem(Strict):
    """ECS `as.*`."""

    number: int | None = Field(None, description="AS number.")
    organization: AsOrg | None = Field(None, description="AS owner.")


class Endpoint(Strict):
    """ECS `source.*` / `destination.*` / `client.*` / `server.*`."""

    ip: IP | None = Field(None, description="IP address, canonical form.")
    port: int | None = Field(None, ge=0, le=65535, description="Port.")
    address: Keyword | None = Field(None, description="Address as the source wrote it (IP or name).")
    domain: Keyword | None = Field(None, description="Host name when the source gave a name.")
    bytes: int | None = Field(None, description="Bytes sent from this side.")
    packets: int | None = Field(None, description="Packets sent from this side.")
    geo: Geo | None = Field(None, description="GeoIP enrichment.")
    as_: AutonomousSystem | None = Field(None, alias="as", description="ASN enrichment.")


class User(Strict):
    """ECS `user.*`."""

    name: Keyword | None = Field(None, description="User name as the source names them.")
    id: Keyword | None = Field(None, description="Stable user id.")
    email: Keyword | None = Field(None, description="E-mail address.")
    domain: Keyword | None = Field(None, description="Directory or account domain.")
    roles: list[Keyword] = Field(default_factory=list, description="Roles held.")
    target: UserTarget | None = Field(None, description="The user acted upon, e.g. by an admin.")


class UserTarget(Strict):
    """ECS `user.target.*`: the user an action was performed on."""

    name: Keyword | None = Field(None, description="Target user name.")
    id: Keyword | None = Field(None, description="Target user id.")


class OsInfo(Strict):
    """ECS `os.*` as used under user_agent and host."""

    name: Keyword | None = Field(None, description="Operating system name.")
    version: Keyword | None = Field(None, description="Operating system version.")
    family: Keyword | None = Field(None, description="OS family.")
    platform: Keyword | None = Field(None, description="OS platform, e.g. darwin.")


class UaDevice(Strict):
    """ECS `user_agent.device.*`."""

    name: Keyword | None = Field(None, description="Device name from the user agent.")


class UserAgent(Strict):
    """ECS `user_agent.*`."""

    original: LongKeyword | None = Field(None, description="The User-Agent header.")
    name: Keyword | None = Field(None, description="Browser or client name.")
    version: Keyword | None = Field(None, description="Browser or client version.")
    os: OsInfo | None = Field(None, description="OS from the user agent.")
    device: UaDevice | None = Field(None, description="Device from the user agent.")


class Host(Strict):
    """ECS `host.*`: the machine the event was observed on or is about."""

    name: Keyword | None = Field(None, description="Host name.")
    hostname: Keyword | None = Field(None, description="Host name as reported by the host.")
    id: Keyword | None = Field(None, description="Stable host id (e.g. osquery UUID).")
    ip: list[IP] = Field(default_factory=list, description="Host addresses.")
    os: OsInfo | None = Field(None, description="Host OS.")


class Organization(Strict):
    """ECS `organization.*`: the customer workspace."""

    id: Keyword | None = Field(None, description="Workspace id.")
    name: Keyword | None = Field(None, description="Workspace name.")


class TlsSide(Strict):
    """ECS `tls.client` / `tls.server` subset."""

    subject: Keyword | None = Field(None, description="Certificate subject.")
    issuer: Keyword | None = Field(None, description="Certificate issuer.")
    not_after: UtcDatetime | None = Field(None, description="Certificate expiry.")


class Tls(Strict):
    """ECS `tls.*`."""

    version: Keyword | None = Field(None, description="Protocol version number, e.g. 1.2.")
    version_protocol: Keyword | None = Field(None, description="Protocol family: tls or ssl.")
    cipher: Keyword | None = Field(None, description="Negotiated cipher suite.")
    established: bool | None = Field(None, description="Whether the handshake completed.")
    server: TlsSide | None = Field(None, description="Server side.")


class CloudAccount(Strict):
    """ECS `cloud.account`."""

    id: Keyword | None = Field(None, description="Cloud account id.")


class CloudService(Strict):
    """ECS `cloud.service`."""

    name: Keyword | None = Field(None, description="Cloud service, e.g. ec2.")


class Cloud(Strict):
    """ECS `cloud.*`."""

    provider: Keyword | None = Field(None, description="aws, gcp, azure...")
    region: Keyword | None = Field(None, description="Region.")
    account: CloudAccount | None = Field(None, description="Account.")
    service: CloudService | None = Field(None, description="Service.")


class Related(Strict):
    """ECS `related.*`: every IP, user and host an event mentions, for pivoting."""

    ip: list[IP] = Field(default_factory=list, description="All IPs in the event.")
    user: list[Keyword] = Field(default_factory=list, description="All user names in the event.")
    hosts: list[Keyword] = Field(default_factory=list, description="All host names in the event.")


class Network(Strict):
    """ECS `network.*`."""

    transport: Keyword | None = Field(None, description="tcp, udp, icmp...")
    protocol: Keyword | None = Field(None, description="Application protocol, e.g. http, ssh.")
    direction: Keyword | None = Field(None, description="ingress, egress, internal...")
    bytes: int | None = Field(None, description="Total bytes.")
    packets: int | None = Field(None, description="Total packets.")
    iana_number: Keyword | None = Field(None, description="IANA protocol number.")


class UrlInfo(Strict):
    """ECS `url.*`."""

    original: LongKeyword | None = Field(None, description="The URL as requested.")
    path: LongKeyword | None = Field(None, description="Path part.")
    query: LongKeyword | None = Field(None, description="Query string without `?`.")
    domain: Keyword | None = Field(None, description="Host part.")


class HttpRequest(Strict):
    """ECS `http.request.*`."""

    method: Keyword | None = Field(None, description="HTTP method.")
    referrer: LongKeyword | None = Field(None, description="Referer header.")


class HttpResponseBody(Strict):
    """ECS `http.response.body.*`."""

    bytes: int | None = Field(None, description="Response body size.")


class HttpResponse(Strict):
    """ECS `http.response.*`."""

    status_code: int | None = Field(None, description="HTTP status code.")
    body: HttpResponseBody | None = Field(None, description="Response body.")


class Http(Strict):
    """ECS `http.*`."""

    version: Keyword | None = Field(None, description="HTTP version, e.g. 1.1.")
    request: HttpRequest | None = Field(None, description="Request.")
    response: HttpResponse | None = Field(None, description="Response.")


class Process(Strict):
    """ECS `process.*` (the program that logged, e.g. sshd)."""

    name: Keyword | None = Field(None, description="Program name.")
    pid: int | None = Field(None, description="Process id.")


class ErrorInfo(Strict):
    """ECS `error.*`: an error the source reported (e.g. CloudTrail errorCode)."""

    code: Keyword | None = Field(None, description="Error code.")
    message: Text | None = Field(None, description="Error message.")


class VulnScanner(Strict):
    """ECS `vulnerability.scanner.*`."""

    vendor: Keyword | None = Field(None, description="Scanner, e.g. Trivy.")


class VulnScore(Strict):
    """ECS `vulnerability.score.*`."""

    base: float | None = Field(None, description="CVSS base score.")


class Vulnerability(Strict):
    """ECS `vulnerability.*`."""

    id: Keyword | None = Field(None, description="CVE or advisory id.")
    severity: Keyword | None = Field(None, description="CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.")
    category: list[Keyword] = Field(default_factory=list, description="Kind of finding.")
    description: Text | None = Field(None, description="Title or description.")
    reference: LongKeyword | None = Field(None, description="Primary reference URL.")
    score: VulnScore | None = Field(None, description="Scores.")
    scanner: VulnScanner | None = Field(None, description="Scanner.")


class Package(Strict):
    """ECS `package.*`: the affected package of a finding."""

    name: Keyword | None = Field(None, description="Package name.")
    version: Keyword | None = Field(None, description="Installed version.")
    type: Keyword | None = Field(None, description="Ecosystem, e.g. debian, pip, npm.")
    path: Keyword | None = Field(None, description="Where it is installed or declared.")


class Origin(Strict):
    """Where a record was read: the basis of its deterministic id."""

    source: Keyword = Field(description="Source (normalizer) id, e.g. app_signin.")
    file: Keyword | None = Field(None, description="Path the shipper read.")
    file_id: Keyword | None = Field(None, description="Identity of the file across renames.")
    offset: int | None = Field(None, description="Byte offset of the record's line or document in the file.")
    index: int | None = Field(None, description="Position of the record within a split line or document.")
    topic: Keyword | None = Field(None, description="Kafka topic, when no file origin is known.")
    partition: int | None = Field(None, description="Kafka partition.")
    kafka_offset: int | None = Field(None, description="Kafka offset.")


class Auth(Strict):
    """How a sign-in authenticated (not in ECS)."""

    method: Keyword | None = Field(None, description="password, publickey, sso, ...")
    mfa: bool | None = Field(None, description="Whether a second factor was used.")
    mfa_method: Keyword | None = Field(None, description="totp, webauthn, keyboard-interactive...")


class Device(Strict):
    """Device classification of the client (not in ECS)."""

    type: DeviceType = Field("unknown", description="desktop, mobile, tablet, bot, cli or unknown.")


class Session(Strict):
    """The application session of a sign-in (not in ECS)."""

    id: Keyword | None = Field(None, description="Session id issued at sign-in.")


class FirewallRule(Strict):
    """One rule of a security group / firewall change (CloudTrail AuthorizeSecurityGroup*...)."""

    direction: Literal["ingress", "egress"] = Field(description="Traffic direction the rule allows.")
    group_id: Keyword | None = Field(None, description="Security group id.")
    protocol: Keyword | None = Field(None, description="tcp, udp, icmp, or -1/all.")
    from_port: int | None = Field(None, description="First port (inclusive); None = all.")
    to_port: int | None = Field(None, description="Last port (inclusive); None = all.")
    cidr: Keyword | None = Field(None, description="IPv4 or IPv6 CIDR as written in the request.")


class StaffAccess(Strict):
    """An employee's access to customer data (staff access audit)."""

    resource: Keyword | None = Field(None, description="What was opened, e.g. workspace/documents.")
    action: Keyword | None = Field(None, description="read, export, update, delete...")
    record_count: int | None = Field(None, description="Records touched.")
    ticket_id: Keyword | None = Field(None, description="Support ticket or justification id.")
    justification: Text | None = Field(None, description="Free-text reason given.")


class Posture(Strict):
    """Laptop security posture reported by osquery."""

    disk_encrypted: bool | None = Field(None, description="Full-disk encryption on.")
    encryption_type: Keyword | None = Field(None, description="FileVault, BitLocker, LUKS...")
    screen_lock_enabled: bool | None = Field(None, description="Screen lock on.")
    screen_lock_delay_seconds: int | None = Field(None, description="Idle seconds before the lock.")


class Finding(Strict):
    """A vulnerability finding's lifecycle fields (one finding = one stable id)."""

    id: Keyword = Field(description="Stable finding id: target + package + vulnerability.")
    target: Keyword | None = Field(None, description="Scanned image, host or repository.")
    fixed_version: Keyword | None = Field(None, description="First version that fixes it.")
    first_seen: UtcDatetime | None = Field(None, description="When it was first reported.")
    status: Keyword | None = Field(None, description="open, fixed, ignored.")


class Control(Strict):
    """A control event: backup, restore test, deletion, legal hold, remote sign-out."""

    kind: Keyword = Field(description="backup, restore_test, deletion, legal_hold, signout_all.")
    status: Keyword = Field(description="started, succeeded, failed, requested, completed, opened, closed, executed.")
    job_id: Keyword | None = Field(None, description="Job, request or hold id.")
    incident_id: Keyword | None = Field(None, description="Incident a legal hold belongs to.")
    backup_id: Keyword | None = Field(None, description="Backup or snapshot concerned.")
    reason: Text | None = Field(None, description="Why (failure reason, hold reason...).")
    requested_at: UtcDatetime | None = Field(None, description="When the request was made (deletions).")


class ThreatIndicator(Strict):
    """ECS `threat.enrichments.indicator.*`: the listed indicator an address matched."""

    ip: IP = Field(description="The event's address that matched the indicator.")
    type: Literal["ipv4-addr", "ipv6-addr"] = Field(description="STIX/ECS indicator type.")
    name: Keyword = Field(description="The indicator as listed: an address or a CIDR block.")
    description: Text | None = Field(None, description="What the list says about it.")


class ThreatFeed(Strict):
    """ECS `threat.enrichments.feed.*`."""

    name: Keyword = Field(description="Indicator list: its file stem, or its CSV `feed` column.")


class ThreatMatched(Strict):
    """ECS `threat.enrichments.matched.*`."""

    field: Keyword = Field(description="Event field that matched: source.ip or destination.ip.")


class ThreatEnrichment(Strict):
    """One indicator match (ECS `threat.enrichments`)."""

    indicator: ThreatIndicator = Field(description="The matched indicator.")
    feed: ThreatFeed = Field(description="The list it came from.")
    matched: ThreatMatched = Field(description="Where it matched.")


class Threat(Strict):
    """ECS `threat.*` as set by the threat-intel enricher."""

    enrichments: list[ThreatEnrichment] = Field(default_factory=list, description="Indicator matches.")


class AddressScopes(Strict):
    """What kind of address source.ip / destination.ip is (not in ECS); only public ones get GeoIP."""

    source: AddressScope | None = Field(None, description="Scope of source.ip.")
    destination: AddressScope | None = Field(None, description="Scope of destination.ip.")


class Context(Strict):
    """Facts the context enricher looked up (users, assets, tickets); `missing` names what it could not find."""

    missing: list[Keyword] = Field(default_factory=list, description="Lookups that found nothing: user, "
                                   "user.working_hours, asset, tickets (no ticket table loaded).")
    user_employee: bool | None = Field(None, description="user.name is one of our employees.")
    user_team: Keyword | None = Field(None, description="The user's team or customer workspace.")
    user_role: Keyword | None = Field(None, description="The user's role.")
    user_team_admin: bool | None = Field(None, description="The user administers their team or workspace.")
    user_mfa_required: bool | None = Field(None, description="Policy requires MFA for the user.")
    user_working_hours: Keyword | None = Field(None, description="Usual working hours, local time, e.g. 09:00-18:00.")
    user_working_days: Keyword | None = Field(None, description="Usual working days, e.g. Mon-Fri.")
    user_timezone: Keyword | None = Field(None, description="IANA timezone of the working hours, e.g. Europe/Berlin.")
    user_usual_daily_records: int | None = Field(None, description="Customer records the employee usually "
                                                 "reads per day.")
    asset_owner: Keyword | None = Field(None, description="Owner of host.name.")
    asset_environment: Keyword | None = Field(None, description="Environment of host.name, e.g. production.")
    asset_criticality: Keyword | None = Field(None, description="low, medium, high or critical.")
    asset_requires_2fa: bool | None = Field(None, description="Logins to host.name must use a second factor.")
    ticket_valid: bool | None = Field(None, description="Staff access: a ticket of this employee is valid for "
                                      "this workspace at this time (None: no ticket table loaded).")
    ticket_id: Keyword | None = Field(None, description="Staff access: the valid ticket that justifies it.")
    ticket_problem: TicketProblem | None = Field(None, description="Staff access: why the ticket the event "
                                                 "cites does not count.")


class Secmon(Strict):
    """secmon's own fields."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this event schema.")
    origin: Origin = Field(description="Where the record was read.")
    device: Device | None = Field(None, description="Client device classification.")
    auth: Auth | None = Field(None, description="Authentication details.")
    session: Session | None = Field(None, description="Application session.")
    enrichment: list[Keyword] = Field(
        default_factory=list, description="Enrichers applied, as `name@version` (provenance)."
    )
    firewall_rules: list[FirewallRule] = Field(default_factory=list, description="Rules a change adds or removes.")
    staff_access: StaffAccess | None = Field(None, description="Staff access to customer data.")
    posture: Posture | None = Field(None, description="Laptop posture.")
    finding: Finding | None = Field(None, description="Vulnerability finding lifecycle.")
    control: Control | None = Field(None, description="Control event details.")
    address_scope: AddressScopes | None = Field(None, description="Scope of source.ip and destination.ip.")
    context: Context | None = Field(None, description="Context-table facts (users, assets, tickets).")


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


Geo.model_rebuild()
User.model_rebuild()
