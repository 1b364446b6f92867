#!/usr/bin/env bash
# Create .venv with the locked dependencies and secmon itself (idempotent, quick when done).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "secmon needs Python >= 3.11 (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11+" >&2
  exit 1
fi
stamp=.venv/.secmon-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: creating .venv with the locked dependencies (requirements.lock)..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
if [ -x .venv/bin/uv ]; then
  VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install -q -r requirements.lock
  VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install -q --no-deps -e .
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
fi
echo "$want" > "$stamp"
