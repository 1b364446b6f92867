"""SIGTERM stops `secmon run` like Ctrl-C: the summary and the alerts raised so far are written, exit 143.

A real `secmon` subprocess and a real signal: once on streaming stdin kept open (as under
`tail -f`), once during a long run over a file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.failures import EXIT_TERMINATED

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "signin.jsonl"


def _secmon(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True, **kw
    )


def _wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} stayed empty for {seconds}s")


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_sigterm_on_streaming_stdin_keeps_the_alerts_and_writes_the_summary(tmp_path: Path):
    alerts = tmp_path / "alerts.jsonl"
    proc = _secmon("run", "--source", "app_signin", "-", "--alerts-out", str(alerts), stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(EXAMPLE.read_text())
    proc.stdin.flush()  # stdin stays open: the run waits for more, as under `tail -f`
    _wait_for(alerts)
    code, err = _stop(proc)
    assert code == EXIT_TERMINATED, err
    assert "(interrupted: SIGTERM)" in err and "Traceback" not in err
    assert all(json.loads(line)["rule"]["id"] for line in alerts.read_text().splitlines())


def test_sigterm_during_a_long_file_run_writes_what_was_raised(tmp_path: Path):
    big, alerts, events = tmp_path / "signin.jsonl", tmp_path / "alerts.jsonl", tmp_path / "events.jsonl"
    big.write_text(EXAMPLE.read_text() * 1000)  # 86k records: far more work than the signal waits for
    args = ("run", "--source", "app_signin", str(big), "--alerts-out", str(alerts), "--events-out", str(events))
    proc = _secmon(*args)
    _wait_for(events)  # the run is under way (its first events reached the file)
    code, err = _stop(proc)
    assert code == EXIT_TERMINATED, err
    assert "(interrupted: SIGTERM)" in err and "Traceback" not in err
    assert alerts.read_text().strip(), "the alerts raised before the signal are written"
