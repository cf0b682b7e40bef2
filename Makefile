# Okno: `make run` serves the inbox, `make test` runs the whole suite.
# Both install what is missing first (Debian 12, as root).

VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app app
PYTHON ?= python3
APT    := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

.PHONY: run test setup system system-test venv assets db translations lint bench clean

run: setup db translations
	@bash scripts/run.sh

test: setup system-test translations
	@bash scripts/test.sh

setup: system venv assets

# System packages, only those missing (apt-get update once, when something is).
system:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v npm >/dev/null || missing="$$missing npm nodejs"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then apt-get update -q && $(APT) $$missing; fi

system-test:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi dejavu || missing="$$missing fonts-dejavu-core"; \
	fc-list 2>/dev/null | grep -qi "color emoji" || missing="$$missing fonts-noto-color-emoji"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then apt-get update -q && $(APT) $$missing; fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

assets: static/vendor/.installed

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	@touch $@

translations: venv
	@$(VENV)/bin/pybabel compile -d translations >/dev/null

db: venv
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) bench/reads.py

clean:
	rm -rf $(VENV) node_modules static/vendor
