#!/usr/bin/env bash
# Start the demo: migrate, load demo data once, start local vendor fakes, evaluate the demo
# segments and sync them to the fakes (manage.py setup_demo), print a login per role,
# serve on :8000 (PORT to change). Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CUSTOMERS=${1:-300}
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-1}
VAR=${CDP_VAR_DIR:-var}
FAKES="$VAR/demo-fakes.json"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

$PY manage.py migrate --noinput
# -v 0 and --no-imports: Django 5.2's shell would otherwise print an auto-import banner.
has_data=$($PY manage.py shell -v 0 --no-imports -c 'from cdp.models import SourceRecord; print(SourceRecord.objects.exists())' | tail -n 1)
if [ "$has_data" != "True" ]; then
  $PY manage.py generate_demo --customers "$CUSTOMERS" --seed 42
  # Identity: train the matching model on the demo records and resolve them into profiles.
  $PY manage.py train_identity_model
  $PY manage.py resolve_identities --no-progress
fi

# Fake Mailchimp, HubSpot, Salesforce and webhook servers on free 127.0.0.1 ports.
rm -f "$FAKES"
$PY -m cdp.demo.fakes --info "$FAKES" & pids+=($!)
$PY manage.py setup_demo --fakes "$FAKES"

if [ -n "${REDIS_URL:-}" ]; then
  .venv/bin/celery -A cdp worker -l warning --concurrency 2 & pids+=($!)
  .venv/bin/celery -A cdp beat -l warning & pids+=($!)
fi
echo "CDP demo on http://127.0.0.1:$PORT/admin/ (API docs: /api/docs/, health: /health/)"
$PY manage.py runserver "127.0.0.1:$PORT" --noreload
