"""Delivery settings: receivers from YAML merged with secrets from the environment or the secrets
directory; incomplete receivers are refused without quoting any secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from schemas.errors import ConfigError
from tests.unit.pipeline.delivery.factories import SECRET

YAML = (
    "delivery:\n  routes_file: /etc/secmon/routes.yaml\n  receivers:\n"
    "    hook: {kind: webhook, url: 'https://soar.example/hook'}\n    pager: {kind: pagerduty}\n"
)
ROOT = Path(__file__).parents[4]


def test_yaml_receivers_take_their_secrets_from_the_environment(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "secmon.yaml"
    cfg.write_text(YAML)
    monkeypatch.setenv(
        "SECMON_DELIVERY_RECEIVERS", json.dumps({"hook": {"secret": SECRET}, "pager": {"routing_key": "R0KEY"}})
    )
    delivery = load_settings(cfg).delivery
    delivery.check()
    assert delivery.receivers["hook"].url.get_secret_value() == "https://soar.example/hook"
    assert delivery.receivers["hook"].secret.get_secret_value() == SECRET
    assert delivery.receivers["pager"].routing_key.get_secret_value() == "R0KEY"
    assert delivery.receivers["pager"].pages is True
    assert SECRET not in repr(delivery) and "R0KEY" not in repr(delivery)


def test_missing_secrets_are_listed_without_values(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "secmon.yaml"
    cfg.write_text(YAML)
    monkeypatch.delenv("SECMON_DELIVERY_RECEIVERS", raising=False)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg).delivery.check()
    assert "delivery.receivers.hook (webhook): needs secret" in str(err.value)
    assert "delivery.receivers.pager (pagerduty): needs routing_key" in str(err.value)
    assert "soar.example" not in str(err.value)


def test_secrets_directory_file(tmp_path: Path):
    (tmp_path / "secmon.yaml").write_text(YAML)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "secmon_delivery").write_text(
        json.dumps({"receivers": {"hook": {"secret": SECRET}, "pager": {"routing_key": "R0KEY"}}})
    )
    code = (
        "from pathlib import Path; from pipeline.settings import load_settings; "
        f"d = load_settings(Path({str(tmp_path / 'secmon.yaml')!r})).delivery; d.check(); "
        "print(d.receivers['pager'].routing_key.get_secret_value())"
    )
    env = {"SECMON_SECRETS_DIR": str(secrets), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "R0KEY"
