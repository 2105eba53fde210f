# Wartel: `make run` serves with demo data; `make test` runs the whole suite on a real PostgreSQL.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `make run` needs only the service's own dependencies; the dev extras (test, lint, browser) come with the rest.
RUN_STAMP := $(VENV)/.installed-run

.PHONY: cluster-up cluster-down ha-packages test-ha install run test test-calendar chromium faketime test-faults test-hostile audit-deps test-browser lint format bench-booking bench-audit bench-detect bench-report clean db-stop

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

install: $(STAMP)

# A demo witness (docs/audit.md) beside the service: its own key and state under .wartel/witness, trusting
# the service's checkpoint key; stopped with the service.
WITNESS_PORT ?= 8091
DEMO_WITNESS := [{"name": "demo-witness", "url": "http://127.0.0.1:$(WITNESS_PORT)", "public_key_file": ".wartel/witness/witness.pub"}]
run: $(RUN_STAMP)
	$(VENV)/bin/wartel witness --dir .wartel/witness --name demo-witness --port $(WITNESS_PORT) \
		--log-key-file .wartel/audit-signing.key & WITNESS=$$!; trap 'kill $$WITNESS 2>/dev/null' EXIT INT TERM; \
	WARTEL_AUDIT_WITNESSES='$(DEMO_WITNESS)' $(VENV)/bin/wartel serve

# Debian packages the tests need, installed here when running as root (as CI does); otherwise one line says
# what to install and the target fails.
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
CHROMIUM_BIN = $(or $(WARTEL_CHROMIUM),/usr/bin/chromium)

test: $(STAMP) chromium
	$(VENV)/bin/ruff check wartel schedules audit tests bench
	$(PY) -m pytest -q -m "not faults" $(PYTEST_ARGS)

# The browser journeys are part of `make test`: a missing Chromium is installed (root) or is an error, never a
# skip. WARTEL_SKIP_BROWSER=1 opts out; pytest's summary then says the journeys were not run.
chromium:
	@if [ "$(WARTEL_SKIP_BROWSER)" = "1" ]; then \
		echo "WARTEL_SKIP_BROWSER=1: the browser journeys will NOT run"; \
	elif [ -x "$(CHROMIUM_BIN)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser journeys"; \
		$(APT_INSTALL) chromium >/dev/null && test -x "$(CHROMIUM_BIN)"; \
	else \
		echo "make test: the browser journeys need Chromium at $(CHROMIUM_BIN): sudo apt-get install chromium (Debian), or set WARTEL_CHROMIUM, or opt out with WARTEL_SKIP_BROWSER=1" >&2; \
		exit 2; \
	fi

# The calendar-sensitive tests at fixed instants (Friday 23:30 WIB, Sunday 23:50 WIT, Monday 00:05 WITA,
# 31 December, 1 January, 28/29 February 2028, a month's last day) under libfaketime: Python and the
# PostgreSQL server it starts see the same instant. Last line: one JSON summary. See tests/calendar/run.py.
test-calendar: $(STAMP) faketime chromium
	$(PY) tests/calendar/run.py $(PYTEST_ARGS)

faketime:
	@if $(PY) -c 'import sys; sys.path.insert(0, "tests/calendar"); import run; sys.exit(run.libfaketime() is None)'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's faketime for the calendar tests"; \
		$(APT_INSTALL) faketime >/dev/null; \
	else \
		echo "make test-calendar needs libfaketime: sudo apt-get install faketime (Debian), or set WARTEL_LIBFAKETIME to libfaketime.so.1" >&2; \
		exit 2; \
	fi

# Crash, database outage, overload and two-process scenarios; last line is one JSON summary.
# The Patroni failover drill (marked ha too) runs only under `make test-ha`.
test-faults: $(STAMP)
	$(PY) tests/faults/run.py -m "faults and not ha" $(PYTEST_ARGS)

# Hostile input: hand-made cases, generated requests (schemathesis, stateful links), cursors, page forms, scope
# leaks and bounded cost; last line is one JSON summary (server_errors, writes_from_refused, over_budget,
# scope_leaks, requests). The same tests also run under `make test`.
test-hostile: $(STAMP)
	$(PY) tests/hostile_run.py $(PYTEST_ARGS)

# Known vulnerabilities in the installed dependencies (pip-audit, PyPI advisory data; needs network).
# Fails (exit 2) when dependencies could not be audited, instead of pip-audit's silent "none found".
audit-deps: $(STAMP)
	$(PY) tests/faults/audit_deps.py

# A three-node Patroni cluster (synchronous replication) with one etcd on this machine, for trying failover
# (docs/operations.md); prints the DSNs. Debian's etcd-server and patroni are installed here when root.
cluster-up: $(RUN_STAMP) ha-packages
	$(VENV)/bin/wartel cluster up $(CLUSTER_ARGS)

cluster-down: $(RUN_STAMP)
	$(VENV)/bin/wartel cluster down $(CLUSTER_ARGS)

ha-packages:
	@if [ -x /usr/bin/etcd ] && [ -x /usr/bin/patroni ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's etcd-server and patroni for the cluster"; \
		$(APT_INSTALL) etcd-server patroni >/dev/null; \
	else \
		echo "the cluster needs etcd and Patroni: sudo apt-get install etcd-server patroni (Debian)" >&2; \
		exit 2; \
	fi

# Failover drills on a throwaway three-node cluster (~2.5 min), each under a booking rush: kill -9 the
# primary's node; stop its PostgreSQL cleanly; freeze it (SIGSTOP); lose the synchronous standby, then the last. Last line: the JSON summary of test-faults, with
# failover_s. Not in .ci/run (CI time); see docs/operations.md.
test-ha: $(STAMP) ha-packages
	$(PY) tests/faults/run.py -m ha $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check wartel schedules audit tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format wartel schedules audit tests bench

db-stop: $(STAMP)
	$(VENV)/bin/wartel db stop

# Booking rush over HTTP against `wartel serve` (private embedded PostgreSQL), then pgbench -N on the same server.
bench-booking: $(STAMP)
	$(PY) -m bench.booking $(BENCH_ARGS)

# Audit appends (32 writers, 25 facility logs) and verification of >= 1,000,000 entries against hashlib alone.
bench-audit: $(STAMP)
	$(PY) -m bench.audit $(BENCH_ARGS)

# Monthly compliance report on a simulated region (25 facilities, >= 400,000 calls) against a plain scan.
bench-report: $(STAMP)
	$(PY) -m bench.report $(BENCH_ARGS)

# Simulated region-year (25 facilities, 20,000 inmates, >= 3M calls), full detection rescan, count(*) floor,
# and the incremental job's latency; on its own database of the embedded test server, dropped after.
bench-detect: $(STAMP)
	$(PY) -m bench.detect $(BENCH_ARGS)

# Only the end-to-end journeys in headless Chromium (they also run under `make test`).
test-browser: $(STAMP) chromium
	$(PY) -m pytest -q -m browser $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .wartel-calendar .wartel-calendar-*
