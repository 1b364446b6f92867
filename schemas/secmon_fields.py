"""secmon's own `secmon.*` fields: origin, auth, device, context, and per-source details."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import SCHEMA_VERSION, Strict
from schemas.types import Keyword, Text, UtcDatetime

DeviceType = Literal["desktop", "mobile", "tablet", "bot", "cli", "unknown"]
AddressScope = Literal[
    "public", "private", "loopback", "link_local", "multicast", "documentation", "reserved", "unspecified", "malformed"
]
TicketProblem = Literal["unknown", "other_workspace", "other_employee", "expired", "not_yet_valid"]

MAX_LISTED = 32  # items kept per list of a logging-config summary (the normalizer cuts to it)
MAX_TRUNCATED = 32  # field names kept in secmon.truncated


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

    def at(self, **position: int | None) -> Origin:
        """This origin at another position (`offset=`, `index=`), validated: what
        `model_copy(update=...)` gives in about half its time (readers make one per line)."""
        return Origin(**{**self.__dict__, **position})


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


class TrailSelectors(Strict):
    """What a CloudTrail trail logs once a PutEventSelectors call (classic or advanced selectors) applies."""

    form: Literal["classic", "advanced"] = Field(description="eventSelectors (classic) or advancedEventSelectors.")
    management_read: bool = Field(description="Read-only management events are logged (Get*, Describe*, List*...).")
    management_write: bool = Field(description="Write management events are logged (Create*, Delete*, Put*...).")
    excluded_sources: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="Event sources whose management events no selector logs, e.g. kms.amazonaws.com.",
    )
    data_resource_types: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="Resource types whose data events are logged, for some or all resources, e.g. AWS::S3::Object.",
    )


class BucketLifecycle(Strict):
    """How soon the rules of a PutBucketLifecycle call delete objects (the shortest enabled rule)."""

    rules: int = Field(description="Enabled rules in the configuration.")
    expiration_days: int | None = Field(
        None,
        description="Fewest days after which an enabled rule deletes "
        "objects (Expiration Days) or their old versions (NoncurrentDays).",
    )
    expiration_date: UtcDatetime | None = Field(
        None, description="Earliest date on which an enabled rule deletes the objects it matches (Expiration Date)."
    )
    rule_id: Keyword | None = Field(None, description="ID of the rule that deletes soonest.")


class LoggingConfig(Strict):
    """What a call configuring audit logging or threat detection sets (CloudTrail trail, GuardDuty
    detector, the S3 bucket logs are delivered to)."""

    trail: Keyword | None = Field(
        None, description="CloudTrail trail name (taken from the ARN when the request names the trail by ARN)."
    )
    selectors: TrailSelectors | None = Field(None, description="PutEventSelectors: what the trail logs from now on.")
    multi_region: bool | None = Field(None, description="isMultiRegionTrail as set; None when the request leaves it.")
    global_service_events: bool | None = Field(
        None,
        description="includeGlobalServiceEvents (IAM, STS, CloudFront events) as set; None when the request leaves it.",
    )
    log_file_validation: bool | None = Field(
        None, description="enableLogFileValidation as set; None when the request leaves it."
    )
    organization_trail: bool | None = Field(
        None, description="isOrganizationTrail as set; None when the request leaves it."
    )
    s3_bucket: Keyword | None = Field(None, description="S3 bucket the trail delivers its log files to from now on.")
    cloudwatch_log_group: Keyword | None = Field(
        None, description="CloudWatch Logs log group (ARN) the trail delivers to from now on."
    )
    kms_key: Keyword | None = Field(None, description="KMS key that encrypts the log files from now on.")
    cleared: list[Literal["cloudwatch_log_group", "kms_key"]] = Field(
        default_factory=list,
        description="Settings the request clears (an empty value): cloudwatch_log_group "
        "(no more CloudWatch Logs delivery), kms_key (log files no longer "
        "KMS-encrypted).",
    )
    bucket: Keyword | None = Field(
        None, description="S3 bucket a bucket call (PutBucketLifecycle, PutBucketPolicy) configures."
    )
    lifecycle: BucketLifecycle | None = Field(
        None,
        description="PutBucketLifecycle: how soon its rules delete objects; None when the request could not be read.",
    )
    cloudtrail_delivery: bool | None = Field(
        None,
        description="PutBucketPolicy: whether the policy lets cloudtrail.amazonaws.com write log files to the bucket.",
    )
    detector_id: Keyword | None = Field(None, description="GuardDuty detector id.")
    detector_enabled: bool | None = Field(
        None, description="GuardDuty `enable` as set; None when the request leaves it."
    )
    disabled_features: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="GuardDuty protection features the request turns off, e.g. S3_DATA_EVENTS.",
    )


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
    status: Keyword = Field(
        description="started, succeeded, failed, deleted, requested, completed, opened, closed, executed."
    )
    job_id: Keyword | None = Field(None, description="Job, request or hold id.")
    incident_id: Keyword | None = Field(None, description="Incident a legal hold belongs to.")
    backup_id: Keyword | None = Field(None, description="Backup or snapshot concerned.")
    reason: Text | None = Field(None, description="Why (failure reason, hold reason...).")
    requested_at: UtcDatetime | None = Field(None, description="When the request was made (deletions).")


class AddressScopes(Strict):
    """What kind of address source.ip / destination.ip is (not in ECS); only public ones get GeoIP."""

    source: AddressScope | None = Field(None, description="Scope of source.ip.")
    destination: AddressScope | None = Field(None, description="Scope of destination.ip.")


class ContextFacts(Strict):
    """Facts the context enricher looked up (users, assets, tickets); `missing` names what it could not find."""

    missing: list[Keyword] = Field(
        default_factory=list,
        description="Lookups that found nothing: user, "
        "user.working_hours, asset, workspace, tickets (no ticket table loaded).",
    )
    user_employee: bool | None = Field(None, description="user.name is one of our employees.")
    user_team: Keyword | None = Field(None, description="The user's team or customer workspace.")
    user_role: Keyword | None = Field(None, description="The user's role.")
    user_team_admin: bool | None = Field(None, description="The user administers their team or workspace.")
    user_mfa_required: bool | None = Field(None, description="Policy requires MFA for the user.")
    user_working_hours: Keyword | None = Field(None, description="Usual working hours, local time, e.g. 09:00-18:00.")
    user_working_days: Keyword | None = Field(None, description="Usual working days, e.g. Mon-Fri.")
    user_timezone: Keyword | None = Field(None, description="IANA timezone of the working hours, e.g. Europe/Berlin.")
    user_usual_daily_records: int | None = Field(
        None, description="Customer records the employee usually reads per day."
    )
    workspace_app_mfa_required: bool | None = Field(
        None,
        description="The workspace (organization.id) requires "
        "MFA in the app itself: SSO does not count as a second factor.",
    )
    asset_owner: Keyword | None = Field(None, description="Owner of host.name.")
    asset_environment: Keyword | None = Field(None, description="Environment of host.name, e.g. production.")
    asset_criticality: Keyword | None = Field(None, description="low, medium, high or critical.")
    asset_requires_2fa: bool | None = Field(None, description="Logins to host.name must use a second factor.")
    ticket_valid: bool | None = Field(
        None,
        description="Staff access: a ticket of this employee is valid for "
        "this workspace at this time (None: no ticket table loaded).",
    )
    ticket_id: Keyword | None = Field(None, description="Staff access: the valid ticket that justifies it.")
    ticket_problem: TicketProblem | None = Field(
        None, description="Staff access: why the ticket the event cites does not count."
    )


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
    logging_config: LoggingConfig | None = Field(
        None,
        description="What a CloudTrail, GuardDuty or S3 "
        "configuration call sets (trail settings, event selectors, "
        "detector state, a bucket's lifecycle or policy).",
    )
    staff_access: StaffAccess | None = Field(None, description="Staff access to customer data.")
    posture: Posture | None = Field(None, description="Laptop posture.")
    finding: Finding | None = Field(None, description="Vulnerability finding lifecycle.")
    control: Control | None = Field(None, description="Control event details.")
    address_scope: AddressScopes | None = Field(None, description="Scope of source.ip and destination.ip.")
    context: ContextFacts | None = Field(None, description="Context-table facts (users, assets, tickets).")
    truncated: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_TRUNCATED,
        description="Fields cut at their "
        "schema bound (e.g. user_agent.device.name); the original is in event.original "
        "when parse.keep_original is on.",
    )
