# Tremplin: `make run` serves the courses on http://127.0.0.1:8000; `make test` runs the whole suite.
# Both install what they need on first use (Debian 12, Python 3.11; as root they also apt-get).

SHELL := /bin/bash
ROOT := $(shell id -u | sed 's/^0$$/yes/')

# As root, everything learners' servers execute lives outside the checkout (which may sit
# in root's private home), in a world-readable prefix, as The Littlest JupyterHub does.
ifeq ($(ROOT),yes)
PREFIX ?= /opt/tremplin
DATA_DIR ?= /var/lib/tremplin
else
PREFIX ?= $(CURDIR)/.tremplin
DATA_DIR ?= $(CURDIR)/data
endif
# Debian's Python: a venv made from a Python inside root's home cannot run as learners (FACTS.md).
PYTHON ?= /usr/bin/python3
VENV := $(PREFIX)/venv
NODE_PREFIX := $(PREFIX)/proxy
CHP := $(NODE_PREFIX)/node_modules/.bin/configurable-http-proxy
STATIC_PREFIX := $(PREFIX)/static
MATHJAX := $(STATIC_PREFIX)/node_modules/mathjax/MathJax.js
PYTEST_ARGS ?=

export TREMPLIN_DATA_DIR := $(DATA_DIR)
export TREMPLIN_COURSES_DIR := $(CURDIR)/courses
export TREMPLIN_PROXY := $(CHP)
export PATH := $(VENV)/bin:$(PATH)

.PHONY: run test bench install install-test debian debian-test lock clean-data help
help:
	@echo "make run    install on first use, sync the courses, start the hub on http://127.0.0.1:8000"
	@echo "make test   install what the tests need and run the whole suite"

# ---- Debian packages (root only; a non-root user is told what is missing) -------------
APT_STAMP := $(PREFIX)/.apt-updated
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$(ROOT)" = yes ]; then \
	    mkdir -p $(PREFIX); [ -f $(APT_STAMP) ] || { apt-get update -qq && touch $(APT_STAMP); }; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages:$$missing; install them as root (apt-get install$$missing)"; exit 1; fi; \
	fi
endef

debian:
	$(call apt_install,python3-venv ca-certificates)
	@command -v npm >/dev/null || { $(MAKE) --no-print-directory _debian-node; }

_debian-node:
	$(call apt_install,nodejs npm)

debian-test: debian
	$(call apt_install,chromium bubblewrap fonts-dejavu-core postgresql)

# ---- Python environment --------------------------------------------------------------
$(VENV)/.locked: requirements.lock | debian
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.lock
	touch $@

# The proxy: the official npm configurable-http-proxy, at the version in deploy/proxy.
$(CHP): deploy/proxy/package.json deploy/proxy/package-lock.json | debian
	mkdir -p $(NODE_PREFIX)
	cp deploy/proxy/package.json deploy/proxy/package-lock.json $(NODE_PREFIX)/
	cd $(NODE_PREFIX) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# What pages load from the platform rather than a CDN (MathJax), pinned in deploy/static; the exam
# service serves it from here (ExamServiceApp.static_dir).
$(MATHJAX): deploy/static/package.json deploy/static/package-lock.json | debian
	mkdir -p $(STATIC_PREFIX)
	cp deploy/static/package.json deploy/static/package-lock.json $(STATIC_PREFIX)/
	cd $(STATIC_PREFIX) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Tremplin itself is installed (not editable) so learners' accounts can import it.
LABEXT := $(VENV)/share/jupyter/labextensions/@tremplin/exam-clock
install: $(VENV)/.locked $(CHP) $(MATHJAX)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall .
	@# The exam countdown for JupyterLab, prebuilt (extensions/tremplin_lab/labextension/README.md rebuilds it).
	rm -rf $(LABEXT) && mkdir -p $(dir $(LABEXT)) && cp -r extensions/tremplin_lab/labextension/build $(LABEXT)
	@chmod -R a+rX $(PREFIX)

# The tests' OpenID Connect provider (npm oidc-provider, pinned in tests/oidc), standing for an institution.
OIDC_TEST := $(PREFIX)/oidc-test/node_modules/oidc-provider/package.json
export TREMPLIN_TEST_OIDC_DIR := $(PREFIX)/oidc-test
$(OIDC_TEST): tests/oidc/package.json tests/oidc/package-lock.json tests/oidc/provider.mjs | debian
	mkdir -p $(PREFIX)/oidc-test
	cp tests/oidc/package.json tests/oidc/package-lock.json tests/oidc/provider.mjs $(PREFIX)/oidc-test/
	cd $(PREFIX)/oidc-test && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install-test: debian-test install $(OIDC_TEST)

run: install
	$(VENV)/bin/tremplin accounts demo
	$(VENV)/bin/tremplin courses sync || echo "some courses have errors (above); the others are served"
	$(VENV)/bin/tremplin campaign add deploy/demo/campaign.toml
	cd $(DATA_DIR) && $(VENV)/bin/tremplin campaign roster dd-2027-demo $(CURDIR)/deploy/demo/roster.csv --if-empty
	cd $(PREFIX) && exec $(VENV)/bin/jupyterhub -f $(CURDIR)/jupyterhub_config.py

test: install-test
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install-test
	$(VENV)/bin/python bench/check_bench.py
	$(VENV)/bin/python bench/export_bench.py
	$(VENV)/bin/python bench/grade_bench.py
	$(VENV)/bin/python bench/load_bench.py
	$(VENV)/bin/python bench/roster_bench.py
	$(VENV)/bin/python bench/exam_day.py
	$(VENV)/bin/python bench/server_memory.py

lock: $(VENV)/.locked
	{ echo "# Exact versions installed by 'make' (tested together). Regenerate: make lock"; \
	  $(VENV)/bin/pip freeze --all | grep -v -i -E '^(tremplin|pip)[= @]'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean-data:
	rm -rf $(DATA_DIR)
