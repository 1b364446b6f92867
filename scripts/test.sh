#!/usr/bin/env bash
# README command 2: install, start the real Kafka broker and Elasticsearch node (unless
# SECMON_KAFKA_BOOTSTRAP / SECMON_ES_URL point elsewhere), run the whole suite, stop what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# lint first: a finding fails the run in seconds, before any service starts (config: pyproject.toml)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # files and strictness: [tool.mypy] in pyproject.toml
started=()
if [ -z "${SECMON_KAFKA_BOOTSTRAP:-}" ] && ! bash scripts/services.sh status kafka >/dev/null 2>&1; then started+=(kafka); fi
if [ -z "${SECMON_ES_URL:-}" ] && ! bash scripts/services.sh status es >/dev/null 2>&1; then started+=(es); fi
# the secured pair (Kafka SASL_SSL, ES HTTPS + auth) on its own ports, for tests marked `secure`
secure_started=""
if [ -z "${SECMON_SECURE_ENV:-}" ] && ! bash scripts/services.sh status --secure >/dev/null 2>&1; then secure_started=1; fi
cleanup() {
  for svc in "${started[@]}"; do bash scripts/services.sh down "$svc" || true; done
  if [ -n "$secure_started" ]; then bash scripts/services.sh down --secure || true; fi
}
trap cleanup EXIT
for svc in "${started[@]}"; do
  # Services this script starts begin empty: topics and indices of earlier runs would only slow
  # the start (Kafka recovers every old topic) and grow the disk. SECMON_KEEP_SERVICE_DATA=1 keeps them.
  [ -n "${SECMON_KEEP_SERVICE_DATA:-}" ] || bash scripts/services.sh reset "$svc" >/dev/null
  bash scripts/services.sh up "$svc"
done
if [ -n "$secure_started" ]; then
  [ -n "${SECMON_KEEP_SERVICE_DATA:-}" ] || bash scripts/services.sh reset --secure >/dev/null
  bash scripts/services.sh up --secure
fi
.venv/bin/python -m pytest "$@"
