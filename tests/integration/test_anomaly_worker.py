"""Behaviour models on the real broker and node: trained from Elasticsearch history, hot-reloaded by a
running worker, scoring exactly as the embedded runner does; a tampered file is refused and the
worker keeps the last good model.

A generated month of sign-ins (bench.signin_month, takeovers included) is split at day 14: the
history is shipped and indexed, `secmon anomaly train --from-es` trains on it, the running worker
picks the file up, then the rest is shipped. The embedded runner replays the same two files with
the model installed between them (as the worker had it) and must raise the same anomaly alerts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bench.signin_month import generate
from detectors.anomaly.artifact import read_manifest
from detectors.anomaly.kinds import stop_learning
from detectors.engine import Engine
from detectors.registry import configure
from detectors.state import DictStore
from pipeline.anomaly.models import ModelWatcher
from pipeline.anomaly.training import file_events
from pipeline.settings import SecmonSettings
from tests.integration.conftest import consumed, count, wait_for

KEY = "integration-test-model-key"
SPLIT_DAY = 14


def _split(src, history, live) -> tuple[int, int, datetime]:
    lines = src.read_text().splitlines(keepends=True)
    start = datetime.fromisoformat(json.loads(lines[0])["timestamp"].replace("Z", "+00:00"))
    split = (start + timedelta(days=SPLIT_DAY)).replace(hour=0, minute=0, second=0)
    old = [ln for ln in lines if datetime.fromisoformat(json.loads(ln)["timestamp"].replace("Z", "+00:00")) < split]
    history.write_text("".join(old))
    live.write_text("".join(lines[len(old) :]))
    return len(old), len(lines) - len(old), split


def _embedded_alerts(settings: SecmonSettings, history, live) -> dict:
    detectors = configure(settings.detection.detectors)
    stop_learning(detectors)  # as the worker: no model learned from the stream, only files score
    engine = Engine(detectors=detectors, store=DictStore())
    alerts = {}
    for event in file_events([str(history)], settings, "app_signin"):
        engine.process(event)
    ModelWatcher(settings.anomaly, engine.detectors).load_now()  # as the worker: the model arrives now
    for event in file_events([str(live)], settings, "app_signin"):
        for alert in engine.process(event):
            alerts[alert.alert.id] = alert
    return {i: a for i, a in alerts.items() if a.rule.id.startswith("anomaly_")}


def test_a_model_trained_from_es_is_hot_reloaded_and_scores_as_embedded(stack, es):
    data = stack.workdir / "month"
    generate(data, users=80, workspaces=6, days=24, takeovers=6, seed=5)
    history, live = stack.workdir / "history.jsonl", stack.workdir / "live.jsonl"
    n_history, n_live, split = _split(data / "signins.jsonl", history, live)
    model = stack.workdir / "models" / "anomaly.model"
    env = {
        "SECMON_ANOMALY_MODEL": str(model),
        "SECMON_ANOMALY_KEY": KEY,
        "SECMON_ANOMALY_RELOAD_SECONDS": "1",
        "SECMON_ANOMALY_RETRAIN_HOURS": "0",
        "SECMON_ENRICH_CONTEXT_DIR": str(data / "context"),
    }
    assert stack.secmon("topics").returncode == 0
    worker = stack.start("worker", log_name="worker", env=env)
    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(history))
    assert shipped.returncode == 0, shipped.stderr
    events = f"{stack.prefix}-events-*"
    wait_for(lambda: count(es, events) >= n_history, timeout=240, what="history indexed")
    # indexed is not detected: the model must reach the detectors after the last history event, as
    # in the embedded replay below, or a history sign-in still queued for detection gets scored
    pipeline = [f"{stack.prefix}-raw-app_signin", f"{stack.prefix}-events", f"{stack.prefix}-detect"]
    wait_for(lambda: consumed(stack.prefix, pipeline), timeout=180, what="history detected")

    trained = stack.secmon(
        "anomaly",
        "train",
        "--from-es",
        "--days",
        "400",
        "--until",
        split.isoformat(),
        "--out",
        str(model),
        env=env,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    version = read_manifest(model, KEY.encode())[0]["version"]
    log = stack.workdir / "worker.log"
    wait_for(lambda: f"version {version}" in log.read_text(errors="replace"), timeout=60, what="model reloaded")

    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(live))
    assert shipped.returncode == 0, shipped.stderr
    wait_for(lambda: count(es, events) >= n_history + n_live, timeout=240, what="live events indexed")
    wait_for(lambda: consumed(stack.prefix, pipeline), timeout=120, what="live events detected")

    settings = SecmonSettings(anomaly={"model": model, "key": KEY}, enrich={"context_dir": data / "context"})
    expected = _embedded_alerts(settings, history, live)
    assert expected, "the live half raised no anomaly alert: the test proves nothing"
    alerts = f"{stack.prefix}-alerts-*"

    def worker_alerts() -> dict:
        es.options(ignore_status=(404, 503)).indices.refresh(index=alerts)
        found = es.options(ignore_status=(404, 503)).search(
            index=alerts, size=1000, query={"prefix": {"rule.id": "anomaly_"}}
        )
        hits = found.get("hits", {}).get("hits", []) if found else []
        return {h["_id"]: h["_source"] for h in hits}

    wait_for(lambda: consumed(stack.prefix, [f"{stack.prefix}-alerts"]), timeout=120, what="alerts consumed")
    wait_for(lambda: len(worker_alerts()) >= len(expected), timeout=120, what="anomaly alerts indexed")
    got = worker_alerts()
    assert {
        i: (d["alert"]["severity"], d["alert"]["count"], d["secmon"]["anomaly"]["model_version"])
        for i, d in got.items()
    } == {i: (a.alert.severity, a.alert.count, a.secmon.anomaly.model_version) for i, a in expected.items()}
    assert all(d["secmon"]["anomaly"]["features"] for d in got.values()), "every anomaly alert is explained"

    tampered = bytearray(model.read_bytes())
    tampered[-20] ^= 0xFF
    (model.parent / "tampered").write_bytes(bytes(tampered))
    (model.parent / "tampered").replace(model)
    wait_for(
        lambda: f"not reloaded, still scoring with version {version}" in log.read_text(errors="replace"),
        timeout=60,
        what="tampered model refused",
    )
    assert worker.poll() is None, "the worker must survive a bad model file"
    print(
        f"{len(expected)} anomaly alerts identical in the worker and embedded (model {version}); "
        f"{n_history} history + {n_live} live sign-ins"
    )


def test_the_leader_trains_the_missing_model_from_es_history_and_every_worker_loads_it(stack, es):
    data = stack.workdir / "month"
    generate(data, users=60, workspaces=5, days=12, takeovers=0, seed=9)
    path = data / "signins.jsonl"
    model = stack.workdir / "models" / "anomaly.model"
    env = {
        "SECMON_ANOMALY_MODEL": str(model),
        "SECMON_ANOMALY_KEY": KEY,
        "SECMON_ANOMALY_RELOAD_SECONDS": "1",
        "SECMON_ANOMALY_RETRAIN_HOURS": "0.003",
        "SECMON_ANOMALY_HISTORY_DAYS": "400",
        "SECMON_ENRICH_CONTEXT_DIR": str(data / "context"),
    }
    assert stack.secmon("topics").returncode == 0
    shipped = stack.secmon("ship", "--once", "--source", "app_signin", str(path))
    assert shipped.returncode == 0, shipped.stderr
    worker = stack.start("worker", log_name="worker", env=env)
    lines = sum(1 for _ in path.open())
    wait_for(lambda: count(es, f"{stack.prefix}-events-*") >= lines, timeout=240, what="history indexed")
    log = stack.workdir / "worker.log"
    wait_for(
        lambda: model.exists() and "anomaly models in use: signin" in log.read_text(errors="replace"),
        timeout=180,
        what="the leader's model trained and loaded",
    )
    manifest = read_manifest(model, KEY.encode())[0]
    assert manifest["kinds"]["signin"]["source"].startswith("elasticsearch:")
    assert f"version {manifest['version']}" in log.read_text(errors="replace")
    assert worker.poll() is None
