"""`secmon check`: every problem of every section at once, each with its location; exit 2 if any."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.check import check_config
from pipeline.cli import main

ROUTES = "route:\n  receiver: hook\n  routes:\n    - matchers: ['severity=\"high\"']\n      receiver: nobody\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("SECMON_CONFIG", "SECMON_SECRETS_DIR", "SECMON_DELIVERY_RECEIVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # the local anomaly key, if one is looked for


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "secmon.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def broken(tmp_path: Path) -> Path:
    """A configuration wrong in four sections, and with two problems the worker runs without."""
    (tmp_path / "routes.yaml").write_text(ROUTES)
    context = tmp_path / "context"
    context.mkdir()
    (context / "users.csv").write_text("id,name\nu1,alice@example.com\nu2,\n")
    (tmp_path / "model.bin").write_bytes(b"not a model")
    return write_config(
        tmp_path,
        f"""
detection:
  detectors:
    signin_bruteforce_user: {{params: {{threshold: -1}}}}
    no_such_detector: {{}}
  sigma: {{rules_dirs: [{tmp_path / "no-rules"}]}}
delivery:
  routes_file: {tmp_path / "routes.yaml"}
  receivers:
    hook: {{kind: webhook, url: 'https://soar.example/hook'}}
enrich: {{context_dir: {context}}}
anomaly: {{model: {tmp_path / "model.bin"}, key: 'k3y-for-tests-only'}}
""",
    )


def test_every_section_reports_its_problems_with_their_location(tmp_path):
    report = check_config(broken(tmp_path))
    text = report.render()
    where = [p.where for p in report.problems]
    assert any("detection.detectors.no_such_detector" in w for w in where)
    assert any("detection.detectors.signin_bruteforce_user.params.threshold" in w for w in where)
    assert any("delivery.receivers.hook (webhook)" in w for w in where)  # its secret is missing
    assert any(p.where == f"{tmp_path / 'routes.yaml'}:5" and "nobody" in p.what for p in report.problems)
    assert any(w.startswith(str(tmp_path / "context" / "users.csv")) for w in where)
    not_stopping = {p.where for p in report.problems if not p.stops}
    assert str(tmp_path / "no-rules") in not_stopping and str(tmp_path / "model.bin") in not_stopping
    assert report.stops and report.checked is None and "k3y" not in text


def test_the_command_exits_2_and_prints_them_all(tmp_path, capsys):
    assert main(["check", "--config", str(broken(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "configuration problem(s)" in err and "no_such_detector" in err and "users.csv" in err


def test_settings_that_do_not_validate_are_reported_not_raised(tmp_path, capsys):
    config = write_config(tmp_path, "kafka: {partitions: 0}\nno_such_section: 1\n")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: kafka.partitions" in err and "no_such_section" in err


def test_a_clean_configuration_passes_and_is_what_the_worker_runs(tmp_path, capsys):
    config = write_config(tmp_path, "detection:\n  detectors:\n    ssh_root_login: {enabled: false}\n")
    report = check_config(config)
    assert not report.problems and report.checked is not None and report.checked.routes is None
    enabled = {det.meta.id for det, _ in report.checked.detectors}
    assert "ssh_root_login" not in enabled and "signin_bruteforce_user" in enabled
    assert main(["check", "--config", str(config)]) == 0
    assert "configuration OK" in capsys.readouterr().out
