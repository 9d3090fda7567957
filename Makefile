# Two entry points (see README): `make demo` and `make test`. Both set up
# everything they need and can be run again.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FMNIST := /usr/share/datasets/fashion-mnist

PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

.PHONY: demo test setup data browser postgres bench proto clean peers-venv compare

demo: setup data
	$(VENV)/bin/rung demo

test: setup data browser postgres
	$(PY) -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

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

# Peers for benchmarks/compare.py (not needed by `make test`): Optuna in rung's venv,
# Syne Tune 0.13 in its own, since it pins numpy<1.27 (MOBSTER needs autograd, scipy<1.15).
PEERS_VENV := .venv-synetune
peers-venv: setup
	$(PY) -m pip install -q -e '.[peers]'
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q 'syne-tune[gpsearchers]==0.13.0' 'numpy<1.27' autograd 'scipy<1.15'
	$(PEERS_VENV)/bin/python -m pip install -q -e . --no-deps

compare: peers-venv
	nice -n 10 $(PY) benchmarks/compare.py

proto: setup
	$(PY) proto/generate.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) runs build *.egg-info
