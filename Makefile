# Everything a fresh machine needs comes through here: make, python3 (>= 3.11, with venv) are the
# only prerequisites. The project's venv (.venv) is filled from pdm.lock, the one source of
# versions. PDM itself is a bootstrap tool kept in its own venv (.tools/pdm) so that syncing the
# project never touches it; its version is pinned here because it cannot lock itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
PDM := $(TOOLS)/pdm/bin/pdm
PDM_PINS := pdm==2.29.4 "hishel[httpx2]==1.4.0"
STAMP := $(VENV)/.synced
PLOTS_STAMP := $(VENV)/.synced-plots

.PHONY: help dev test test-image test-absence test-adversarial test-scale test-faults-full fuzz bench lint format schema histories clean check-prereqs

help:
	@echo "make dev        run the whole system on its embedded default (Ctrl-C stops it)"
	@echo "make test       run the whole test suite"
	@echo "make test-scale 10,000 essays of 3 KB as one batch, at the server's default limits (SCALE_ESSAYS=100000)"
	@echo "make test-adversarial  the hostile-clients run of make test, fuller, killing the worker (ADVERSARIAL_EXAMPLES=50)"
	@echo "make test-image       the API and the worker from a venv built as the image's (a minute)"
	@echo "make test-absence    a batch whose chunks' worker is away two days' worth of looks (10 min)"
	@echo "make fuzz       fuzz the API from its OpenAPI document, fuller than make test (FUZZ_MAX_EXAMPLES=100)"
	@echo "make test-faults-full  the fault scenarios with FAULT_ESSAYS (2000) essays each"
	@echo "make bench      side-by-side benchmarks, about 50 min; results in bench/results/ (BENCH_ARGS=--quick: 2 min)"
	@echo "make lint       ruff check and format check"
	@echo "make format     ruff format and fix"
	@echo "make schema     regenerate the committed JSON Schema of the Kafka event"
	@echo "make histories  re-record the replay histories under tests/replay/histories"
	@echo "                (GENERATION=name: record beside them, see docs/versioning.md)"

check-prereqs:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python >= 3.11 (e.g. apt-get install python3 python3-venv)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); Python >= 3.11 is required" >&2; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "error: $(PYTHON) lacks the venv module (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

$(PDM): | check-prereqs
	$(PYTHON) -m venv $(TOOLS)/pdm
	$(TOOLS)/pdm/bin/pip install --quiet $(PDM_PINS)

# The last step writes bytecode for every installed module, once (about 5 s). Where
# PYTHONDONTWRITEBYTECODE is set, as on this project's machines, nothing else writes it, and every
# process start compiled its imports again: importing the API and the worker took 1.8 s, 0.7 s
# with bytecode.
$(STAMP): pdm.lock pyproject.toml $(PDM) | check-prereqs
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PDM) use --quiet --ignore-remembered -f $(VENV)/bin/python
	$(PDM) sync --quiet -G dev -G bench -G cli
	$(VENV)/bin/python -m compileall -q -j0 $(VENV)/lib >/dev/null
	touch $(STAMP)

# The benchmark's charts need the plotting stack, which nothing else installs.
$(PLOTS_STAMP): $(STAMP)
	$(PDM) sync --quiet -G dev -G bench -G cli -G plots
	touch $(PLOTS_STAMP)

dev: $(STAMP)
	KAFKA_ENABLE_IDEMPOTENCE=false $(VENV)/bin/python -m devstack

test: $(STAMP)
	$(VENV)/bin/pytest

# SCALE_ESSAYS up to 100000 (the batch cap); SCALE_ID_CHARS=0 lets the API make the essay ids.
SCALE_ESSAYS ?= 10000
SCALE_ID_CHARS ?= 64
test-scale: $(STAMP)
	SCALE_ESSAYS=$(SCALE_ESSAYS) SCALE_ID_CHARS=$(SCALE_ID_CHARS) SCALE_LIMITS=default \
	$(VENV)/bin/pytest tests/scale -k large -s

# The API and the worker run from a venv built as the Dockerfile builds the image's.
test-image: $(STAMP)
	IMAGE_ENV=1 PDM=$(PDM) $(VENV)/bin/pytest tests/image -s

# A triggered batch whose chunks' worker is away for two days' worth of the batch's looks.
test-absence: $(STAMP)
	LONG_ABSENCE=1 $(VENV)/bin/pytest tests/workflows/test_batch_edges.py -k "however and two" -s

# The hostile-clients state machine of make test (6 examples of 30 steps), run fuller and with
# the worker SIGKILLed and restarted among its steps.
ADVERSARIAL_EXAMPLES ?= 50
ADVERSARIAL_STEPS ?= 50
test-adversarial: $(STAMP)
	ADVERSARIAL_EXAMPLES=$(ADVERSARIAL_EXAMPLES) ADVERSARIAL_STEPS=$(ADVERSARIAL_STEPS) ADVERSARIAL_WORKER_KILLS=1 \
	$(VENV)/bin/pytest tests/adversarial -s

# The fuzz test of make test, run fuller: more examples per operation and the stateful phase.
FUZZ_MAX_EXAMPLES ?= 100
FUZZ_SEED ?= 20261129
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) \
	FUZZ_PHASES=examples,coverage,fuzzing,stateful FUZZ_TIMEOUT_S=3600 \
	$(VENV)/bin/pytest tests/fuzz -s

# The fault scenarios of `make test` (300 essays each) at a larger size, with a deadline per
# scenario to match (docs/testing.md, "Fault tests").
FAULT_ESSAYS ?= 2000
FAULT_DEADLINE_S ?= 900
test-faults-full: $(STAMP)
	FAULT_ESSAYS=$(FAULT_ESSAYS) FAULT_DEADLINE_S=$(FAULT_DEADLINE_S) $(VENV)/bin/pytest tests/faults -m faults -s -ra

# Starts its own stack on free loopback ports (10-15 minutes); BENCH_ARGS e.g. "B2 --quick".
bench: $(PLOTS_STAMP)
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: $(STAMP)
	$(VENV)/bin/python -m contracts.events schemas

histories: $(STAMP)
	KAFKA_ENABLE_IDEMPOTENCE=false $(VENV)/bin/python -m tests.replay.record $(if $(GENERATION),--generation $(GENERATION))

clean:
	rm -rf $(VENV) $(TOOLS) .state .pdm-python .pytest_cache .ruff_cache
