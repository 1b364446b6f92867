"""Bad inputs and bad setups through the real CLI entry point: exit code and message, no traceback.

Each row is a mistake from issue 18 (what a new user types); the expected message says what is
wrong and what to do. Unreachable services are a port nobody listens on, so no mock is involved.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).parents[3]
AUTH = ROOT / "tests" / "data" / "normalizers" / "sshd" / "auth.log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("detection:\n  lateness_seconds: 5\n bad: [\n")
    listy = tmp_path / "list.yaml"
    listy.write_text("- kafka\n- es\n")
    good = tmp_path / "good.yaml"
    good.write_text("detection:\n  lateness_seconds: 120\n")
    routes = tmp_path / "routes.yaml"
    routes.write_text("route:\n  receiver: a\n routes: [\n")
    return {"bad_yaml": bad_yaml, "list_yaml": listy, "good_yaml": good, "routes": routes, "dir": tmp_path}


DOWN = f"127.0.0.1:{_free_port()}"
CASES = [  # id, argv, env, exit code, fragments of stderr (in order)
    ("missing input", ["run", "/var/log/no-such-auth.log"], {}, 3, ["no-such-auth.log: no such file", "ls"]),
    ("directory input", ["run", "{dir}"], {}, 3, ["is a directory", "pass the log files inside it"]),
    (
        "unwritable alerts",
        ["run", str(AUTH), "--alerts-out", "/no/such/dir/a.jsonl"],
        {},
        2,
        ["--alerts-out /no/such/dir/a.jsonl", "create the folder", "nothing was read"],
    ),
    ("bad YAML config", ["--config", "{bad_yaml}", "run", str(AUTH)], {}, 2, ["bad.yaml:3:2: not valid YAML"]),
    ("check on bad YAML", ["check", "--config", "{bad_yaml}"], {}, 2, ["bad.yaml:3:2: not valid YAML"]),
    ("config not sections", ["run", str(AUTH), "--config", "{list_yaml}"], {}, 2, ["top level must be sections"]),
    ("missing --config", ["run", str(AUTH), "--config", "/no/such.yaml"], {}, 2, ["/no/such.yaml does not exist"]),
    ("missing SECMON_CONFIG", ["sources"], {"SECMON_CONFIG": "/no/such.yaml"}, 2, ["SECMON_CONFIG=/no/such.yaml"]),
    (
        "bad setting value",
        ["sources"],
        {"SECMON_DETECTION": '{"lateness_seconds": "soon"}'},
        2,
        ["invalid configuration", "lateness_seconds", "secmon check"],
    ),
    (
        "bad routes YAML",
        ["routes", "test", "--routes", "{routes}", "severity=high"],
        {},
        2,
        ["routes.yaml:3:2: not valid YAML"],
    ),
    ("routes test without --routes", ["routes", "test", "severity=high"], {}, 2, ["pass --routes FILE"]),
    (
        "wrong --source",
        ["run", "--source", "zeek_ssl", str(AUTH)],
        {},
        3,
        ["68 of 68 records rejected", "looks like sshd", "--source sshd"],
    ),
    ("stdin without --source", ["run", "-"], {}, 2, ["cannot infer the format of stdin", "pass --source"]),
    ("unknown detector", ["detectors", "test", "no_such_rule"], {}, 2, ["unknown detector", "detectors list"]),
    (
        "Kafka unreachable",
        ["topics"],
        {"SECMON_KAFKA_BOOTSTRAP": DOWN},
        4,
        [f"Kafka is unreachable at {DOWN}", "bash scripts/services.sh up"],
    ),
    (
        "Kafka unreachable (ship)",
        ["ship", "--once", "--source", "sshd", str(AUTH)],
        {"SECMON_KAFKA_BOOTSTRAP": DOWN},
        4,
        [f"Kafka is unreachable at {DOWN}"],
    ),
    (
        "ES unreachable",
        ["templates"],
        {"SECMON_ES_URL": f"http://{DOWN}"},
        4,
        [f"Elasticsearch is unreachable at {DOWN}", "bash scripts/services.sh up"],
    ),
    (
        "ES unreachable (hold list)",
        ["hold", "list"],
        {"SECMON_ES_URL": f"http://{DOWN}"},
        4,
        ["Elasticsearch is unreachable", "bash scripts/services.sh up"],
    ),
    (
        "serve without token keys",
        ["serve", "--port", str(_free_port())],
        {},
        2,
        ["service.jwks_file or service.jwks_url is required", "SECMON_SERVICE_JWKS_FILE"],
    ),
]


@pytest.mark.parametrize(("argv", "env", "code", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_or_setup_says_what_to_do(argv, env, code, fragments, files, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    started = time.monotonic()
    assert main([a.format(**files) for a in argv]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    position = 0
    for fragment in fragments:
        position = err.index(fragment, position)  # ValueError names the missing fragment
    assert time.monotonic() - started < 20  # connection errors fail fast (probe: 3 s), not after 33 s


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path, capsys):
    whole = gzip.compress(AUTH.read_bytes())
    cut = tmp_path / "auth.log.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    dead = tmp_path / "dead.jsonl"
    assert main(["run", str(cut), "--dead-letter-out", str(dead), "--alerts-out", str(tmp_path / "a.jsonl")]) == 0
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert letters[-1]["error_code"] == "truncated_input" and "gzip -t" in letters[-1]["reason"]
    read = int(capsys.readouterr().err.split(" records")[0].rsplit(" ", 1)[-1])
    assert read >= 40  # of 68 lines: everything decompressed before the cut
    assert (tmp_path / "a.jsonl").read_text().count("\n") >= 3


def test_gzip_on_stdin_is_decompressed(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(AUTH.read_bytes())))))
    assert main(["run", "--source", "sshd", "-", "--quiet"]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {a["rule"]["id"] for a in alerts} >= {"ssh_login_without_2fa"}


def test_config_after_the_subcommand_and_version(files, capsys):
    assert main(["sources", "--config", str(files["good_yaml"])]) == 0
    assert "sshd" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("secmon ")


def test_no_traceback_from_the_console_script_unless_debug():
    cmd = [sys.executable, "-m", "pipeline", "run", "/tmp"]
    quiet = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert quiet.returncode == 3 and "Traceback" not in quiet.stderr and "is a directory" in quiet.stderr
    loud = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "Traceback" in loud.stderr and "IsADirectoryError" in loud.stderr
