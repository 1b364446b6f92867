"""docker-compose.yml is valid (checked offline by the real Compose v2 binary) and runs the same
Kafka and Elasticsearch versions as the test suite's services."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import compose

ROOT = Path(__file__).parents[2]
BINARY = Path(compose.__file__).parent / "docker-compose"  # the wrapper script always exits 0


def test_compose_file_is_valid():
    result = subprocess.run([str(BINARY), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_uses_the_tested_versions():
    services = (ROOT / "scripts" / "services.sh").read_text()
    kafka = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([0-9.]+)\}"', services).group(1)
    es = re.search(r'ES_VERSION="\$\{ES_VERSION:-([0-9.]+)\}"', services).group(1)
    text = (ROOT / "docker-compose.yml").read_text()
    assert f"apache/kafka:{kafka}" in text
    assert f"elasticsearch/elasticsearch:{es}" in text
