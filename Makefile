# Digit recognition service: one Makefile for the local stack, tests and benchmarks.
# `make help` lists the targets. The two commands that matter: `make up` and `make test`.

PYTHON_BASE ?= python3
VENV        := .venv
AWS_VENV    := .venv-aws
PY          := $(VENV)/bin/python
REQ_HASH    := $(shell cat requirements.txt | sha256sum | cut -c1-16)
STAMP       := $(VENV)/.installed-$(REQ_HASH)
AWS_STAMP   := $(AWS_VENV)/.installed-ministack-1.5.33-boto3-1.43.106
SERVING_VENV := .venv-serving
SERVING_REQ  := ops/serving-stack-requirements.txt
SERVING_STAMP := $(SERVING_VENV)/.installed-$(shell cat $(SERVING_REQ) | sha256sum | cut -c1-16)
ENDPOINT    ?= local
SITE        := $(VENV)/lib/python3.11/site-packages
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup serving-stack java up down reset demo deploy-local test test-unit lint audit bench load browser

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) $(AWS_STAMP) ## Create .venv (project) and .venv-aws (emulator); a no-op when up to date

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	@echo "setup: installing the project's packages into $(VENV) (the first time: a few minutes, pip quiet)"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/chalice_app" > $(SITE)/digits-project.pth
	@rm -f $(VENV)/.installed-* && touch $@

$(AWS_STAMP):
	@test -x $(AWS_VENV)/bin/python || $(PYTHON_BASE) -m venv $(AWS_VENV)
	@echo "setup: installing the AWS emulator into $(AWS_VENV) (the first time: a minute or two)"
	@# boto3: Lambda functions deployed into the emulator run under its Python (make deploy-local)
	$(AWS_VENV)/bin/pip install --quiet --disable-pip-version-check ministack==1.5.33 boto3==1.43.106
	@rm -f $(AWS_VENV)/.installed-* && touch $@

serving-stack: $(SERVING_STAMP) java ## The real SageMaker serving stack (TorchServe + toolkit) in .venv-serving

$(SERVING_STAMP): $(SERVING_REQ)
	@test -x $(SERVING_VENV)/bin/python || $(PYTHON_BASE) -m venv $(SERVING_VENV)
	@echo "serving-stack: installing TorchServe and the SageMaker inference toolkit into $(SERVING_VENV)"
	$(SERVING_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(SERVING_REQ)
	@rm -f $(SERVING_VENV)/.installed-* && touch $@

java: ## Install Debian's Java 17 for TorchServe (skipped when present)
	@command -v java >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null)

browser: ## Install Debian's Chromium for the browser tests (skipped when present)
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

up: setup ## Run the whole local stack in the foreground (Ctrl-C stops it; ENDPOINT=container: the real serving stack; MODEL=s3://...: another model)
	@if [ "$(ENDPOINT)" = container ]; then $(MAKE) --no-print-directory serving-stack; fi
	$(PY) -m ops.stack up --endpoint $(ENDPOINT) $(if $(MODEL),--model '$(MODEL)')

down: ## Stop a running `make up` cleanly (state is kept)
	@$(PY) -m ops.stack down

reset: down ## Wipe all local state (buckets, tables, queues)
	rm -rf $${DIGITS_LOCAL_DIR:-.local}/ministack

deploy-local: setup ## chalice deploy --stage local into the emulator of a running `make up` (docs/deploying.md)
	AWS_ENDPOINT_URL=http://127.0.0.1:$${AWS_PORT:-4566} AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:$${ENDPOINT_PORT:-8080} \
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 $(PY) -m ops.deploy --stage local

demo: setup ## Push generated sample images through both paths of a running stack
	$(PY) -m ops.demo

test: setup serving-stack browser ## Run every test (unit, integration, browser), after ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup ## Run only the fast unit tests
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

lint: setup ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

audit: setup ## Known vulnerabilities in the installed packages (pip-audit; needs PyPI's vulnerability API)
	$(VENV)/bin/pip-audit --strict --progress-spinner off --local

bench: setup ## Run the benchmarks; results in bench/results/*.json
	$(PY) -m bench

load: setup ## The long load test on Locust (5,000 API + 1,000 S3 predictions)
	$(PY) -m bench.load
