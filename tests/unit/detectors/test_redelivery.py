"""At-least-once delivery: events delivered again after a crash (a replay of the last stretch
before the committed offset) must raise no alert the single delivery does not.

The worker's index_events agent re-sends the detect messages of events it had not committed when it was
killed, so detectors see those events twice; counting detectors must count each event once.
"""

from __future__ import annotations

from bench.generate import with_burst, write_jsonl
from pipeline import embedded
from pipeline.settings import SecmonSettings


def _alerts(path) -> set[tuple[str, str]]:
    return {(a.rule.id, a.alert.id) for a in embedded.run([str(path)], SecmonSettings()).alerts.values()}


def test_a_replayed_stretch_of_sign_ins_raises_the_same_alerts(tmp_path):
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    write_jsonl(with_burst(10_000), once)
    lines = once.read_text().splitlines(keepends=True)
    twice.write_text("".join(lines[:4000] + lines[3000:]))  # 1,000 events delivered again
    expected = _alerts(once)
    assert any(rule == "signin_bruteforce_user" for rule, _ in expected), (
        "the burst must alert: else this proves nothing"
    )
    assert _alerts(twice) == expected
