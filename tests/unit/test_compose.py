"""docker-compose.yml is valid (checked offline by the real Compose v2 binary) and runs the same
Kafka and Elasticsearch versions as the test suite's services."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import compose
import yaml

from pipeline.cli import _parser

ROOT = Path(__file__).parents[2]
BINARY = Path(compose.__file__).parent / "docker-compose"  # the wrapper script always exits 0


def test_compose_file_is_valid():
    result = subprocess.run(
        [str(BINARY), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_uses_the_tested_versions():
    services = (ROOT / "scripts" / "services.sh").read_text()
    kafka = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([0-9.]+)\}"', services).group(1)
    es = re.search(r'ES_VERSION="\$\{ES_VERSION:-([0-9.]+)\}"', services).group(1)
    text = (ROOT / "docker-compose.yml").read_text()
    assert f"apache/kafka:{kafka}" in text
    assert f"elasticsearch/elasticsearch:{es}" in text


def test_kibana_is_wired_to_elasticsearch_and_gets_the_dashboards():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    es_version = services["elasticsearch"]["image"].rsplit(":", 1)[1]
    kibana = services["kibana"]
    assert kibana["image"] == f"docker.elastic.co/kibana/kibana:{es_version}"  # Kibana must match ES exactly
    assert "http://elasticsearch:9200" in kibana["environment"]["ELASTICSEARCH_HOSTS"]
    assert kibana["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    importer = services["dashboards"]
    assert importer["command"][:2] == ["dashboards", "import"]
    url = importer["command"][importer["command"].index("--kibana-url") + 1]
    assert url == "http://kibana:5601" and importer["depends_on"]["kibana"]["condition"] == "service_healthy"
    assert not any(
        "api" in str(v).lower() and "key" in str(v).lower() for v in importer.get("environment", {}).values()
    )  # no secret in the compose file
    parser = _parser()
    parser.parse_args(importer["command"])  # the command line is one secmon accepts
