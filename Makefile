# Two set-up commands (see README): `make run` (demo) and `make test` (whole suite).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
DEMO_CUSTOMERS ?= 300

.PHONY: run test lint bench bench-quick clean

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The demo: SQLite + eager Celery by default; PostgreSQL/Redis when DATABASE_URL/REDIS_URL
# are set (then a Celery worker and beat run beside the web server).
run: $(STAMP)
	DEBUG=$${DEBUG:-1} ./scripts/run_demo.sh $(DEMO_CUSTOMERS)

# The whole suite on this machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379).
test: $(STAMP)
	$(VENV)/bin/pytest
	$(VENV)/bin/ruff check .

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/segments.py
	$(PY) benchmarks/privacy.py
	$(PY) benchmarks/sync.py
	$(PY) benchmarks/identity.py
	$(PY) benchmarks/models.py

bench-quick: $(STAMP)
	$(PY) benchmarks/ingest.py --quick
	$(PY) benchmarks/segments.py --quick
	$(PY) benchmarks/privacy.py --quick
	$(PY) benchmarks/sync.py --quick
	$(PY) benchmarks/identity.py --quick
	$(PY) benchmarks/models.py --quick

clean:
	rm -rf $(VENV) var staticfiles
