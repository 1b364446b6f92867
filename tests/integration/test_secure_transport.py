"""Shipper, worker, templates and lifecycle over Kafka SASL_SSL (SCRAM-SHA-512) and HTTPS + auth.

Runs against the secured pair `scripts/services.sh up --secure` starts (its secure.env names
the ports, CA and users; its secrets dir holds the passwords). Wrong credentials and an untrusted
CA must give one clear line each; no secret may appear anywhere in what the run printed, served
on /metrics, dead-lettered or raised.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer

from bench.generate import with_burst, write_jsonl
from pipeline import embedded
from pipeline.settings import SecmonSettings
from tests.integration.conftest import Stack, count, free_port, wait_for

pytestmark = pytest.mark.secure

SECURE_ENV = Path(os.environ.get("SECMON_SECURE_ENV", "/var/lib/secmon-services-secure/secrets/secure.env"))
TOTAL = 2_000
UNTRUSTED_CA = "/etc/ssl/certs/ca-certificates.crt"  # the system bundle: it does not hold our test CA


def _secure_env() -> dict[str, str]:
    if not SECURE_ENV.is_file():
        pytest.fail(
            f"{SECURE_ENV} is missing: start the secured services with `bash scripts/services.sh up --secure` "
            "(or point SECMON_SECURE_ENV at its secure.env)"
        )
    pairs = (line.split("=", 1) for line in SECURE_ENV.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


class SecureStack(Stack):
    """A Stack whose every command talks SASL_SSL to Kafka and HTTPS with a user to ES."""

    secure: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.secure}


@pytest.fixture(scope="module")
def secure() -> dict[str, str]:
    return _secure_env()


@pytest.fixture(scope="module")
def secrets(secure) -> dict[str, str]:
    """Every secret the secured services hold: none of them may ever be printed."""
    folder = Path(secure["SECMON_SECRETS_DIR"])
    found = {p.name: p.read_text().strip() for p in folder.glob("*.password")}
    assert len(found) >= 3 and all(len(v) >= 16 for v in found.values()), found.keys()
    return found


@pytest.fixture(scope="module")
def secure_es(secure, secrets) -> Iterator[Elasticsearch]:
    client = Elasticsearch(
        secure["SECMON_ES_URL"],
        ca_certs=secure["SECMON_ES_CA_CERTS"],
        request_timeout=60,
        basic_auth=(secure["SECMON_ES_USERNAME"], secrets["es-secmon.password"]),
    )
    yield client
    client.close()


@pytest.fixture
def sstack(secure, secure_es, tmp_path: Path) -> Iterator[SecureStack]:
    s = SecureStack(prefix=f"sec{uuid.uuid4().hex[:10]}", workdir=tmp_path)
    s.secure = secure
    yield s
    s.stop_all()
    for proc_log in tmp_path.glob("*.log"):
        print(f"--- {proc_log.name} (tail)\n" + "\n".join(proc_log.read_text(errors="replace").splitlines()[-40:]))
    secure_es.options(ignore_status=404).indices.delete(index=f"{s.prefix}-*")
    secure_es.options(ignore_status=404).indices.delete_index_template(name=f"{s.prefix}-*")


def _dead_letters(secure: dict[str, str], password: str, topic: str, expected: int) -> list[bytes]:
    context = ssl.create_default_context(cafile=secure["SECMON_KAFKA_SSL_CAFILE"])
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=secure["SECMON_KAFKA_BOOTSTRAP"],
        security_protocol="SASL_SSL",
        ssl_context=context,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=secure["SECMON_KAFKA_SASL_USERNAME"],
        sasl_plain_password=password,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    records: list[bytes] = []
    wait_for(
        lambda: records.extend(m.value for m in consumer) or len(records) >= expected,
        timeout=60,
        interval=0.1,
        what=f"{expected} dead letters on {topic}",
    )
    consumer.close()
    return records


def test_pipeline_runs_over_sasl_ssl_and_https_and_leaks_no_secret(sstack, secure, secrets, secure_es):
    path = sstack.workdir / "signins.jsonl"
    write_jsonl(with_burst(TOTAL), path)
    with path.open("ab") as f:
        f.write(b'{"timestamp": "2026-11-30T08:00:00Z", "user": "x@y.example", \n')  # one dead letter
    outputs: list[str] = []

    def run(*args: str) -> None:
        done = sstack.secmon(*args)
        outputs.extend((done.stdout, done.stderr))
        assert done.returncode == 0, f"secmon {' '.join(args)} failed:\n{done.stderr[-3000:]}"

    run("topics")
    run("templates")
    run("ship", "--once", "--source", "app_signin", str(path))
    port = free_port()
    sstack.start("worker", log_name="worker", env={"SECMON_METRICS_PORT": str(port)})
    events = f"{sstack.prefix}-events-*"
    wait_for(lambda: count(secure_es, events) >= TOTAL, timeout=240, what=f"{TOTAL} events over HTTPS")
    expected = embedded.run([str(path)], SecmonSettings()).alerts
    alerts = f"{sstack.prefix}-alerts-*"
    wait_for(lambda: count(secure_es, alerts) >= len(expected), timeout=120, what="alerts indexed")
    assert count(secure_es, events) == TOTAL
    hits = secure_es.search(index=alerts, size=100)["hits"]["hits"]
    assert {h["_id"] for h in hits} == {a.alert.id for a in expected.values()}
    run("lifecycle", "run")

    outputs.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode())
    dead = _dead_letters(secure, secrets["kafka-secmon.password"], f"{sstack.prefix}-deadletter", expected=1)
    assert json.loads(dead[0])["error_code"] == "invalid_json"
    outputs.extend(d.decode(errors="replace") for d in dead)
    sstack.stop_all()
    outputs.extend(p.read_text(errors="replace") for p in sstack.workdir.glob("*.log"))
    everything = "\n".join(outputs)
    assert "SASL_SSL" in everything or "secmon_events_in_total" in everything  # we did collect real output
    leaked = [name for name, value in secrets.items() if value in everything]
    assert leaked == [], f"secrets printed: {leaked}"


@pytest.mark.parametrize("case", ["kafka_password", "kafka_ca", "es_password", "es_ca"])
def test_wrong_credentials_and_untrusted_ca_give_one_clear_line(sstack, secrets, case, tmp_path):
    bad_dir = tmp_path / "bad-secrets"
    bad_dir.mkdir()
    wrong = uuid.uuid4().hex
    (bad_dir / "secmon_kafka").write_text(
        json.dumps({"sasl_password": wrong if case == "kafka_password" else secrets["kafka-secmon.password"]})
    )
    (bad_dir / "secmon_es").write_text(
        json.dumps({"password": wrong if case == "es_password" else secrets["es-secmon.password"]})
    )
    env = {"SECMON_SECRETS_DIR": str(bad_dir)}
    if case == "kafka_ca":
        env["SECMON_KAFKA_SSL_CAFILE"] = UNTRUSTED_CA
    if case == "es_ca":
        env["SECMON_ES_CA_CERTS"] = UNTRUSTED_CA
    if case.startswith("kafka"):
        data = tmp_path / "one.jsonl"
        data.write_text(
            '{"timestamp": "2026-11-30T08:00:00Z", "user": "a@b.example", "outcome": "success", '
            '"source_ip": "192.0.2.1"}\n'
        )
        done = sstack.secmon("ship", "--once", "--source", "app_signin", str(data), env=env)
    else:
        done = sstack.secmon("templates", env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    want = {
        "kafka_password": "kafka.sasl_password",
        "kafka_ca": "kafka.ssl_cafile",
        "es_password": "refused the credentials",
        "es_ca": "es.ca_certs",
    }[case]
    assert last.startswith("secmon: ") and want in last, last
    output = done.stdout + done.stderr
    assert wrong not in output and not [n for n, v in secrets.items() if v in output]
