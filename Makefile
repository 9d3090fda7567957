# Two entry points (see README): `make demo` and `make test`. Both set up
# everything they need and can be run again.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FMNIST := /usr/share/datasets/fashion-mnist

PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

.PHONY: demo test setup data postgres bench proto clean

demo: setup data
	$(VENV)/bin/rung demo

test: setup data postgres
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

proto: setup
	$(PY) proto/generate.py

clean:
	rm -rf $(VENV) runs build *.egg-info
