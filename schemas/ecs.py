"""ECS field groups of the normalized event (`event.*`, `source.*`, `user.*`, `tls.*`, `threat.*`, ...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import Strict
from schemas.types import IP, NESTED, Keyword, LongKeyword, Stored, Text, UtcDatetime

Outcome = Literal["success", "failure", "unknown"]


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


MAX_NAMES = 64  # subject alternative names kept per certificate


class X509Name(Strict):
    """ECS `x509.subject` / `x509.issuer` subset."""

    distinguished_name: Keyword | None = Field(None, description="The name as written, e.g. CN=a.example,O=Acme.")
    common_name: list[Keyword] = Field(default_factory=list, max_length=8, description="Its CN values.")
    organization: list[Keyword] = Field(default_factory=list, max_length=8, description="Its O values.")


class X509(Strict):
    """ECS `x509.*`: one certificate as a log describes it."""

    version_number: Keyword | None = Field(None, description="X.509 version, e.g. 3.")
    serial_number: Keyword | None = Field(None, description="Serial number (hex).")
    subject: X509Name | None = Field(None, description="Whom the certificate names.")
    issuer: X509Name | None = Field(None, description="Who signed it.")
    not_before: UtcDatetime | None = Field(None, description="Start of validity.")
    not_after: UtcDatetime | None = Field(None, description="End of validity.")
    public_key_algorithm: Keyword | None = Field(
        None, description="RSA, DSA or ECDSA (rsaEncryption, ... as written when unknown)."
    )
    public_key_size: int | None = Field(None, description="Key length in bits.")
    public_key_exponent: int | None = Field(None, description="RSA public exponent.")
    public_key_curve: Keyword | None = Field(None, description="Elliptic curve of an EC key, e.g. prime256v1.")
    signature_algorithm: Keyword | None = Field(
        None, description="How the issuer signed it, e.g. sha1WithRSAEncryption."
    )
    alternative_names: list[Keyword] = Field(
        default_factory=list, max_length=MAX_NAMES, description="Subject alternative names (DNS, IP, email, URI)."
    )


class TlsHash(Strict):
    """ECS `tls.*.hash`: fingerprints of the certificate."""

    sha1: Keyword | None = Field(None, description="SHA-1 of the DER certificate.")
    sha256: Keyword | None = Field(None, description="SHA-256 of the DER certificate.")
    md5: Keyword | None = Field(None, description="MD5 of the DER certificate.")


class TlsSide(Strict):
    """ECS `tls.client` / `tls.server` subset."""

    subject: Keyword | None = Field(None, description="Certificate subject.")
    issuer: Keyword | None = Field(None, description="Certificate issuer.")
    not_after: UtcDatetime | None = Field(None, description="Certificate expiry.")
    hash: TlsHash | None = Field(None, description="Certificate fingerprints.")
    x509: X509 | None = Field(None, description="The certificate's fields.")


class Tls(Strict):
    """ECS `tls.*`."""

    version: Keyword | None = Field(None, description="Protocol version number, e.g. 1.2.")
    version_protocol: Keyword | None = Field(None, description="Protocol family: tls or ssl.")
    cipher: Keyword | None = Field(None, description="Negotiated cipher suite.")
    established: bool | None = Field(None, description="Whether the handshake completed.")
    server: TlsSide | None = Field(None, description="Server side.")
    client: TlsSide | None = Field(None, description="Client side (a client certificate).")


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

    # nested as in ECS: "matched feed X AND indicator Y" must hold within one match, not across two
    enrichments: Annotated[list[ThreatEnrichment], NESTED] = Field(
        default_factory=list, description="Indicator matches."
    )


Geo.model_rebuild()
User.model_rebuild()
