#!/usr/bin/env bash
# README command 1: install (first time only) and run secmon's detectors over log files, no services.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/bootstrap.sh"
if [ $# -eq 0 ]; then set -- "$here/examples/signin.jsonl"; fi
exec "$here/.venv/bin/secmon" run "$@"
