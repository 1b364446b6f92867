"""Every detector, listed in one place (key == id == file stem); no import side effects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detectors.base import Detector
from detectors.rules import (
    account_signout_all_devices,
    anomaly_server_access,
    anomaly_signin,
    anomaly_staff_access,
    backup_failed,
    backup_missing,
    backup_purge_overdue,
    cloud_console_login_without_mfa,
    cloud_logging_tampering,
    cloud_sg_open_to_world,
    cloud_trail_log_expiry,
    deletion_sla_breach,
    laptop_noncompliant,
    laptop_posture_missing,
    network_port_scan,
    restore_test_overdue,
    root_account_usage,
    signin_bruteforce_ip,
    signin_bruteforce_user,
    signin_impossible_travel,
    signin_new_asn,
    signin_new_country,
    signin_new_device,
    signin_password_spray,
    signin_success_after_failures,
    signin_without_mfa,
    source_silent,
    ssh_impossible_travel,
    ssh_login_without_2fa,
    ssh_new_source,
    ssh_root_login,
    ssh_user_enumeration,
    staff_access_bulk,
    staff_access_off_hours,
    staff_access_without_justification,
    tls_weak_certificate,
    tls_weak_cipher,
    tls_weak_protocol,
    vuln_sla_breach,
    web_path_traversal,
    web_scanner,
    web_sql_injection,
)
from schemas.errors import ConfigError

ALL: tuple[Detector, ...] = (
    account_signout_all_devices.DETECTOR,
    anomaly_server_access.DETECTOR,
    anomaly_signin.DETECTOR,
    anomaly_staff_access.DETECTOR,
    cloud_console_login_without_mfa.DETECTOR,
    root_account_usage.DETECTOR,
    signin_bruteforce_ip.DETECTOR,
    signin_bruteforce_user.DETECTOR,
    signin_impossible_travel.DETECTOR,
    signin_new_asn.DETECTOR,
    signin_new_country.DETECTOR,
    signin_new_device.DETECTOR,
    signin_password_spray.DETECTOR,
    signin_success_after_failures.DETECTOR,
    signin_without_mfa.DETECTOR,
    ssh_impossible_travel.DETECTOR,
    ssh_login_without_2fa.DETECTOR,
    ssh_new_source.DETECTOR,
    ssh_root_login.DETECTOR,
    ssh_user_enumeration.DETECTOR,
    staff_access_bulk.DETECTOR,
    staff_access_off_hours.DETECTOR,
    staff_access_without_justification.DETECTOR,
    backup_failed.DETECTOR,
    backup_missing.DETECTOR,
    backup_purge_overdue.DETECTOR,
    cloud_logging_tampering.DETECTOR,
    cloud_sg_open_to_world.DETECTOR,
    cloud_trail_log_expiry.DETECTOR,
    deletion_sla_breach.DETECTOR,
    laptop_noncompliant.DETECTOR,
    laptop_posture_missing.DETECTOR,
    restore_test_overdue.DETECTOR,
    source_silent.DETECTOR,
    tls_weak_certificate.DETECTOR,
    tls_weak_cipher.DETECTOR,
    tls_weak_protocol.DETECTOR,
    vuln_sla_breach.DETECTOR,
    network_port_scan.DETECTOR,
    web_path_traversal.DETECTOR,
    web_scanner.DETECTOR,
    web_sql_injection.DETECTOR,
)
DETECTORS: dict[str, Detector] = {d.meta.id: d for d in ALL}


class DetectorConfig(BaseModel):
    """Per-detector switch and parameter overrides from the YAML config."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run this detector.")
    params: dict[str, Any] = Field(default_factory=dict, description="Overrides of its parameters.")


def configure(overrides: Mapping[str, DetectorConfig]) -> list[tuple[Detector, BaseModel]]:
    """Enabled detectors with validated parameters; every unknown id or bad parameter is reported."""
    chosen, problems = validate(overrides)
    if problems:
        raise ConfigError("invalid detector configuration:\n  " + "\n  ".join(problems))
    return chosen


def validate(overrides: Mapping[str, DetectorConfig]) -> tuple[list[tuple[Detector, BaseModel]], list[str]]:
    """(enabled detectors with validated parameters, every problem as `detectors.<id>...: what`)."""
    problems = [
        f"detectors.{name}: unknown detector id (known: {', '.join(sorted(DETECTORS))})"
        for name in overrides
        if name not in DETECTORS
    ]
    chosen = []
    for det_id, det in DETECTORS.items():
        cfg = overrides.get(det_id, DetectorConfig())
        try:
            params = det.params.model_validate(cfg.params)
        except ValidationError as exc:
            problems += [f"detectors.{det_id}.params.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            continue
        if cfg.enabled:
            chosen.append((det, params))
    return chosen, problems
