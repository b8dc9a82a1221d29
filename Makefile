# The two commands of the README:
#   make demo   set everything up, run the pipeline on the embedded synthetic city, then
#               serve it at http://localhost:8000 (Ctrl-C stops the server)
#   make test   set everything up, then run the whole test suite
# Override TORCH to install another torch 2.x with its matching torchvision.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.mcae-installed
PYTEST_WORKERS ?= 2

.PHONY: demo test setup web web-test lint bench clean

demo: $(STAMP) web
	$(BIN)/mcae demo
	$(BIN)/mcae serve --catalog demo-output/catalog.json --host 127.0.0.1 --port 8000

test: $(STAMP) web-test
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) \
		|| echo "chromium could not be installed: the browser tests (tests/test_web.py) will skip"
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update && apt-get install -y postgresql) \
		|| echo "postgresql could not be installed: the annotation tests on PostgreSQL will fail in CI"
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update && apt-get install -y nginx) \
		|| echo "nginx could not be installed: the caching-proxy tests (tests/reliability) will fail in CI"
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

setup: $(STAMP)

# the web viewer (web/dist), served by the platform app at /
web:
	npm ci --prefix web && npm run build --prefix web

# the same, with the browser tests' hooks (window.mcaeViewer), which production builds leave out
web-test:
	npm ci --prefix web && MCAE_TEST_HOOKS=1 npm run build --prefix web

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,engine]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy inference tiles platform

bench: $(STAMP)
	$(BIN)/python -m benchmarks.engine
	$(BIN)/python -m benchmarks.annotation

clean:
	rm -rf demo-output build *.egg-info
