# Two entry points (see README): `make demo` and `make test`. Both set up
# everything they need and can be run again.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FMNIST := /usr/share/datasets/fashion-mnist

PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

# The lock: exact versions and hashes of everything `make setup` installs, compiled by
# pip-tools from pyproject.toml's ranges for these extras (docs/installing.md says why).
LOCK := requirements/dev.txt
EXTRAS := dev peers tensorboard mlflow lightning transformers docs
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_FLAGS)
# `make lock` re-resolves everything to the newest versions the ranges allow;
# `make lock LOCK_FLAGS=` keeps today's pins and only adds what pyproject.toml gained.
LOCK_FLAGS ?= --upgrade

.PHONY: demo test test-latest setup lock docs data browser postgres bench proto clean peers-venv compare

demo: setup data
	$(VENV)/bin/rung demo

test: setup data browser postgres
	$(PY) -m pytest -q

setup: $(STAMP)

# Exactly the lock: pip checks every file against its hash, pip-sync removes whatever the
# lock does not name (a venv left from an older lock), then rung itself goes in editable
# without dependencies, built by the locked setuptools.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(VENV)/bin/pip-sync -q $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock: setup
	$(PIP_COMPILE) $(addprefix --extra ,$(EXTRAS)) -o $(LOCK) pyproject.toml requirements/pins.in
	$(PIP_COMPILE) -c $(LOCK) --extra tensorboard --extra mlflow -o requirements/runtime.txt \
		pyproject.toml requirements/pins.in
	# pip's hash-checking mode wants SMAC3's dask[distributed] pinned with its extra
	for peer in $(PEERS); do \
		extras=; [ $$peer != smac ] || extras=--no-strip-extras; \
		$(PIP_COMPILE) $$extras -o requirements/peer-$$peer.txt requirements/peer-$$peer.in \
			|| exit 1; \
	done
	rm -rf build src/*.egg-info *.egg-info

# The documentation site on http://127.0.0.1:8000/, rebuilt as the pages change.
docs: setup
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8000

# The suite against the newest releases pyproject.toml's ranges allow, in a venv of its
# own: what an upgrade of the lock would change. Not part of CI.
LATEST_VENV := .venv-latest
test-latest: data browser postgres
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade -e '.[$(subst $(eval) ,$(comma),$(EXTRAS))]'
	$(LATEST_VENV)/bin/python -m pytest -q

comma := ,

# Fashion-MNIST offline from Debian's package when we can install it; otherwise
# the workers fall back to torchvision's download.
data:
	@if [ -d $(FMNIST) ]; then echo "Fashion-MNIST: $(FMNIST)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else echo "Fashion-MNIST: $(FMNIST) missing and apt-get unavailable; torchvision will download it"; fi

# Debian's chromium for the dashboard's browser tests (Playwright drives it; its own
# browser download is not used). Without it those tests skip and say why.
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium: /usr/bin/chromium missing and apt-get unavailable; browser tests will skip"; fi

# PostgreSQL server binaries for the storage tests (they start their own throw-away server);
# without them and without root/apt-get those tests skip and say why.
postgres:
	@if [ -n "$(PG_BIN)" ]; then echo "PostgreSQL: $(PG_BIN)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	else echo "PostgreSQL binaries missing and apt-get unavailable; PostgreSQL tests will skip"; fi

bench: setup
	$(PY) benchmarks/simulator_speed.py
	$(PY) benchmarks/hartmann6_asha_vs_random.py
	$(PY) benchmarks/server_throughput.py
	$(PY) benchmarks/dashboard_load.py
	$(PY) benchmarks/multiobjective.py

# The peers of benchmarks/compare.py (not needed by `make test`), each in its own venv
# (.venv-NAME) from its own lock (requirements/peer-NAME.txt), as their pins clash with
# rung's: Syne Tune 0.13 pins numpy<1.27 (MOBSTER needs autograd, scipy<1.15), NePS 0.17
# pandas<3 and networkx<3, DEHB 0.1.2 numpy<2; SMAC3 2.4's random forest (pyrfr) has no
# wheel for this Python and builds from source with Debian's swig. Optuna is in the main lock.
PEERS := synetune neps smac dehb
PEERS_VENV := $(addprefix .venv-,$(PEERS))
peers-venv: setup
	@if ! command -v swig >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq swig g++ >/dev/null; \
		else echo "swig missing and apt-get unavailable: SMAC3's pyrfr will not build"; fi; fi
	set -e; for peer in $(PEERS); do \
		venv=.venv-$$peer; \
		test -x $$venv/bin/python || $(PYTHON) -m venv $$venv; \
		$$venv/bin/python -m pip install -q --require-hashes -r requirements/peer-$$peer.txt; \
		$$venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .; \
	done

compare: peers-venv
	nice -n 10 $(PY) benchmarks/compare.py

proto: setup
	$(PY) proto/generate.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) $(LATEST_VENV) runs build *.egg-info
