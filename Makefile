# The two set-up commands are `make demo` and `make test` (README). Both create the venv,
# install what is missing (as root: PostgreSQL, TimescaleDB, Mosquitto) and provision the
# services they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.parktwin-installed

.PHONY: venv install-services test-tools lint typecheck unit test demo services-up services-down clean bench-ingest bench-alarm bench-webhook-connections bench-writer-rtt bench-spatial bench-sim bench-emergency bench-carbon bench-rollup bench-economy bench-cockpit bench-scale-reads bench-today bench-ledger-year bench-export bench-park100k bench-cluster bench-pg-cluster test-cluster cluster-tools cockpit

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap-venv.sh
	scripts/bootstrap-venv.sh $(PYTHON) $(VENV)
	touch $@

venv: $(STAMP)

install-services: venv
	$(BIN)/parktwin services install

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# The PDF tests read the reports back with poppler's pdftotext (installed as root when missing;
# the output goes to .parktwin/test-tools.log). The cockpit's browser tests drive Debian's
# headless Chromium (Playwright for Python launches /usr/bin/chromium; no browser download).
test-tools:
	@command -v pdftotext >/dev/null || { [ "$$(id -u)" = 0 ] && mkdir -p .parktwin \
	  && echo "installing poppler-utils for the PDF tests (log: .parktwin/test-tools.log)" \
	  && { apt-get update && apt-get install -y --no-install-recommends --no-upgrade poppler-utils; } \
	     > .parktwin/test-tools.log 2>&1; } || echo "pdftotext missing: the PDF text checks will skip"
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && mkdir -p .parktwin \
	  && echo "installing chromium for the cockpit's browser tests (log: .parktwin/test-tools.log)" \
	  && { apt-get update && apt-get install -y --no-install-recommends --no-upgrade chromium chromium-driver; } \
	     >> .parktwin/test-tools.log 2>&1; } || echo "chromium missing: the cockpit's browser tests will skip"

# The multi-node tests (tests_cluster/, `pytest tests_cluster`) run Patroni over etcd and
# haproxy from Debian (installed as root when missing; the output goes to
# .parktwin/cluster-tools.log).
cluster-tools:
	@command -v patroni >/dev/null && command -v etcd >/dev/null && command -v haproxy >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && mkdir -p .parktwin \
	  && echo "installing patroni, etcd and haproxy for the cluster tests (log: .parktwin/cluster-tools.log)" \
	  && { apt-get update && apt-get install -y --no-install-recommends --no-upgrade \
	       patroni etcd-server etcd-client haproxy; } > .parktwin/cluster-tools.log 2>&1; } \
	  || echo "patroni/etcd/haproxy missing: the cluster tests will skip"

unit: venv install-services test-tools
	$(BIN)/pytest

test: lint typecheck unit

demo: venv
	$(BIN)/parktwin demo

services-up: venv
	$(BIN)/parktwin services up

services-down: venv
	$(BIN)/parktwin services down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Ingest throughput and latency against the bare-paho ceiling and a naive ingestor
# (about 3 minutes; writes docs/benchmarks.md).
bench-ingest: venv install-services
	$(BIN)/python -m bench.ingest

# Gas alarm to signed webhook: publish-to-arrival latency idle and under 10,000 msg/s of meter
# readings (about 2 minutes; writes docs/benchmarks.md).
bench-alarm: venv install-services
	$(BIN)/python -m bench.alarm_latency

# A webhook POST on a kept-alive connection against a new connection each, to a local HTTPS
# receiver behind an emulated round-trip time (about 2 minutes; writes docs/benchmarks.md).
bench-webhook-connections: venv
	$(BIN)/python -m bench.webhook_connections

# The ingest writer's small batches, pipelined against a statement at a time, with PostgreSQL
# direct and behind an emulated round trip of 0 and 1 ms (about 2 minutes; writes
# docs/benchmarks.md).
bench-writer-rtt: venv install-services
	$(BIN)/python -m bench.writer_rtt

# Spatial queries over 5,000 devices and 500 buildings through the API, STRtree index against
# a linear scan (about a minute; writes docs/benchmarks.md).
bench-spatial: venv install-services
	$(BIN)/python -m bench.spatial

# How fast `parktwin sim` publishes against bare paho (about 2 minutes; writes
# docs/benchmarks.md).
bench-sim: venv install-services
	$(BIN)/python -m bench.sim_publish

# 100,000 devices: seed, 30 minutes live, a drain; about 45 minutes on a quiet machine
bench-park100k: venv install-services
	$(BIN)/python -m bench.park100k

# Incident impact analysis over 5,000 devices through the API, STRtree index against a linear
# scan (about a minute; writes docs/benchmarks.md).
bench-emergency: venv install-services
	$(BIN)/python -m bench.emergency

# The park's annual carbon report over a year of hourly readings of 2,000 meters, from the
# daily rollups against the same report from raw readings (first run loads the data, several
# minutes; writes docs/benchmarks.md).
bench-carbon: venv install-services
	$(BIN)/python -m bench.carbon

# The rollup job's cost per open hour (hourly row only) against the same hours done in full
# (hourly and daily rows), at 40, 120 and 240 readings an hour (about 2 minutes; writes
# docs/benchmarks.md).
bench-rollup: venv install-services
	$(BIN)/python -m bench.rollup

# The economy reads (亩均效益评价, 电力看经济, the month's overview) over the demo park's simulated
# year through the API (first run loads the data, about a minute; writes docs/benchmarks.md).
bench-economy: venv install-services
	$(BIN)/python -m bench.economy

# Streaming exports (CSV, Parquet) of 30 days x 1,000 meters of minute readings through one
# `parktwin api`, its peak memory against a 1-day export (first run loads 43.2 M rows, about
# 15 minutes; writes docs/benchmarks.md).
bench-export: venv install-services
	$(BIN)/python -m bench.export

# The cockpit's front-end libraries: pinned in cockpit/package.json and package-lock.json, their
# built files committed under app/cockpit/static/vendor/ (so `make demo` needs no Node). This
# rebuilds them from the npm registry after a version change.
cockpit:
	cd cockpit && npm ci --no-audit --no-fund --ignore-scripts
	cp cockpit/node_modules/echarts/dist/echarts.esm.min.mjs app/cockpit/static/vendor/echarts.esm.min.js
	cp cockpit/node_modules/echarts/LICENSE app/cockpit/static/vendor/LICENSE.echarts
	cp cockpit/node_modules/zrender/LICENSE app/cockpit/static/vendor/LICENSE.zrender

# The cockpit in headless Chromium: time to the first full screen with data, and 50 open
# screens against one API process (about 2 minutes; writes docs/benchmarks.md).
bench-cockpit: venv install-services test-tools
	$(BIN)/python -m bench.cockpit

# Every read path and job at 2,000 / 20,000 / 100,000 devices, seeded straight into PostgreSQL
# (about 35 minutes and 6.4 GB of disk; writes docs/benchmarks.md).
bench-scale-reads: venv install-services
	$(BIN)/python -m bench.scale_reads

# Reads of today by the hour of the day: this month's daily consumption of every counter with
# the open hour queued, against the rule before (today made from raw readings), in the same run
# (2,000 devices; about 5 minutes; writes docs/benchmarks.md).
bench-today: venv install-services
	$(BIN)/python -m bench.today

# The carbon ledger (the cockpit's year to date, the annual report, energy by enterprise) and the
# 亩均 evaluation over a year of daily rollups at 2,000 / 20,000 / 100,000 devices, against the
# same reads over this month (first run seeds, about 3 minutes; then about 10; writes
# docs/benchmarks.md).
bench-ledger-year: venv install-services
	$(BIN)/python -m bench.ledger_year

# The multi-node fault tests (tests_cluster/, outside `make test`'s suite): a three-node
# RabbitMQ cluster with node kills and restarts, counted against what devices had acknowledged.
# They start and stop every node themselves (Debian's rabbitmq-server must be installed).
test-cluster: venv install-services cluster-tools
	PYTHONPATH=$(CURDIR) $(BIN)/python -m pytest tests_cluster -q

# Ingest throughput with 1, 2 and 4 workers on a three-node RabbitMQ cluster against single-node
# Mosquitto, with CPU per message of each role (a few minutes; writes docs/benchmarks.md).
bench-cluster: venv install-services
	$(BIN)/python -m bench.cluster

# Replicated PostgreSQL (three Patroni nodes over etcd): write rate with a synchronous standby,
# failover time, bytes per reading (about 3 minutes; writes docs/benchmarks.md).
bench-pg-cluster: venv install-services cluster-tools
	$(BIN)/python -m bench.pg_cluster
