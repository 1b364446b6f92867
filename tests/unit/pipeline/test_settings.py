"""Settings: env over YAML over defaults; typos are errors; secrets are never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.settings import load_settings


def test_env_and_yaml(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "secmon.yaml"
    cfg.write_text(
        "kafka:\n  bootstrap: kafka-1:9093\nes:\n  url: https://es:9200\n"
        "detection:\n  detectors:\n    signin_bruteforce_ip: {params: {threshold: 20}}\n"
    )
    monkeypatch.setenv("SECMON_ES_URL", "https://other:9200")
    monkeypatch.setenv("SECMON_ES_API_KEY", "c2VjcmV0")
    settings = load_settings(cfg)
    assert settings.kafka.bootstrap == "kafka-1:9093"
    assert settings.es.url == "https://other:9200"
    assert settings.detection.detectors["signin_bruteforce_ip"].params == {"threshold": 20}
    assert "c2VjcmV0" not in repr(settings) and "c2VjcmV0" not in str(settings.model_dump())


def test_yaml_typo_is_an_error(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SECMON_CONFIG", raising=False)
    cfg = tmp_path / "secmon.yaml"
    cfg.write_text("kafka:\n  bootstrapp: x:1\n")
    with pytest.raises(ValidationError, match="bootstrapp"):
        load_settings(cfg)


def test_missing_config_file_says_so(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_secrets_come_from_files_and_never_appear_in_errors(tmp_path: Path, monkeypatch):
    (tmp_path / "secmon_es").write_text('{"api_key": "c2VjcmV0", "bulk_max_docs": "not-a-number-c2VjcmV0"}')
    monkeypatch.setenv("SECMON_SECRETS_DIR", str(tmp_path))
    with pytest.raises(ValidationError) as err:
        load_settings()
    assert "c2VjcmV0" not in str(err.value)
    (tmp_path / "secmon_es").write_text('{"api_key": "c2VjcmV0"}')
    assert load_settings().es.api_key.get_secret_value() == "c2VjcmV0"
