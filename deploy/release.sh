#!/usr/bin/env bash
# Run once per release, on one machine, before the new web processes start (the web unit's ExecStartPre does it):
# database migrations, static files for whitenoise, and Django's deployment checks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY="${PYTHON:-.venv/bin/python}"; else PY="${PYTHON:-python3}"; fi
"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput --verbosity 0
"$PY" manage.py check --deploy
