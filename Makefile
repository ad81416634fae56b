# smart-support: `make dev` runs the local stack, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PY313 := /root/.pyenv/versions/3.13.0/bin/python3
PYTHON ?= $(shell if [ -x $(PY313) ]; then echo $(PY313); else command -v python3.13 || command -v python3; fi)
VENV := .venv
TOOLS := .venv-tools
CHECKOV := .venv-checkov
CONFIG_ENV ?= default
PEER := .venv-peer
PY := $(VENV)/bin/python
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/layers/common/python:$(CURDIR)

.PHONY: install tools checkov browser-deps dev test lint typecheck validate unit integration e2e browser load build deploy bench bench-peer seed token clean faults eval soak kb-ingest kb-search bench-kb

install: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt layers/deps-light/requirements.txt layers/deps-agent/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

tools: $(TOOLS)/.installed
$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -r requirements-tools.txt
	touch $@

# checkov pins its own boto3 and packaging (older than SAM's): a venv of its own.
checkov: $(CHECKOV)/.installed
$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install -q -r requirements-checkov.txt
	touch $@

# Debian's Chromium, and axe-core from npm (the browser suite's accessibility audit injects it into the pages).
AXE_CORE_VERSION := 4.14.1
BROWSER_NPM := .browser-deps
browser-deps: $(BROWSER_NPM)/.axe-core-$(AXE_CORE_VERSION)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
$(BROWSER_NPM)/.axe-core-$(AXE_CORE_VERSION):
	npm install --prefix $(BROWSER_NPM) --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_CORE_VERSION)
	touch $@

dev: install tools ## start the local stack (offline model) on 127.0.0.1:$(PORT); its state lives in memory
	$(PY) -m local

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: tools checkov ## cfn-lint, sam validate --lint, checkov (its skips are justified in template.yaml)
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint
	$(CHECKOV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

unit: install tools
	$(PY) -m pytest tests/unit -q

integration: install tools
	$(PY) -m pytest tests/integration -q

e2e: install tools
	$(PY) -m pytest tests/e2e -q

faults: install tools ## the fault suite: e2e flows under LOCAL_FAULTS, IAM, TTL, crashes, races
	$(PY) -m pytest tests/faults -q

soak: install tools ## the approval ledger's invariant soak, long: make soak [SOAK_REQUESTS=2000 SOAK_SEED=n SOAK_WORKERS=12]
	SOAK_REQUESTS=$(or $(SOAK_REQUESTS),2000) $(PY) -m pytest tests/faults/test_ledger_soak.py -q -rA

browser: install tools browser-deps
	$(PY) -m pytest tests/browser -q

build: install tools ## sam build for python3.13/arm64, then check the layers' bytecode and botocore models
	PATH=$(dir $(PY313)):$$PATH $(TOOLS)/bin/sam build
	$(PY) -m deploy.check_build

# make deploy [CONFIG_ENV=prod] [REGION=eu-west-1] [MODEL_ID=…] [IDENTITY_MODE=oidc] [ALARM_EMAIL=…] [PARAMS="Name=Value …"]:
# samconfig.toml's parameters with these on top (deploy/parameters.py: only make's command line, never the environment)
deploy: install build ## sam deploy (samconfig.toml's CONFIG_ENV, default dev), then publish web/ + config.json
	overrides="$$($(PY) -m deploy.parameters --config-env $(CONFIG_ENV) $(MAKEOVERRIDES) $(PARAMS))" && \
	$(TOOLS)/bin/sam deploy --config-env $(CONFIG_ENV) $(if $(REGION),--region $(REGION)) --parameter-overrides "$$overrides"
	$(PY) -m deploy.site publish --config-env $(CONFIG_ENV) $(if $(REGION),--region $(REGION))

test: install tools browser-deps lint validate ## everything CI runs
	$(PY) -m pytest tests -q
	$(MAKE) build

bench: install tools
	$(PY) -m bench

bench-kb: install ## the help center's figures: hit@1/hit@3, index size, cold load, query latency (docs/performance.md)
	$(PY) -m bench.knowledge

# make eval [PROVIDER=offline|openai|bedrock] [K=4] [ONLY=ids,categories] [LABEL=...]: docs/eval.md
PROVIDER ?= offline
K ?= 4
eval: install tools ## the support agent measured: scenarios in eval/, pass^1 / pass^k, violations, cost, latency
	$(PY) -m eval --provider $(PROVIDER) --k $(K) $(if $(ONLY),--only $(ONLY)) $(if $(LABEL),--label $(LABEL))

peer: $(PEER)/.installed
$(PEER)/.installed: requirements-peer.txt layers/deps-agent/requirements.txt
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/pip install -q -r requirements-peer.txt
	touch $@

bench-peer: install peer ## the stack beside the LangGraph Agent Server (langgraph dev), then 1,000 turns on the stack
	$(PY) -m bench --peer

# The help center (docs/knowledge.md). Locally this is how articles reach the agent: the index it builds is the one
# the agent loads (the shipped demo index by default, or OUT), and a running `make dev` picks it up within a minute.
KB_DIR ?= $(or $(DIR),kb)
kb-ingest: install ## build the help-center index from a folder of Markdown/HTML articles: make kb-ingest [DIR=kb] [OUT=file]
	$(PY) -m smart_support.knowledge ingest $(KB_DIR) $(if $(OUT),--out $(OUT))

kb-search: install ## what the agent's help-center search returns: make kb-search Q="Do you ship to Canada?"
	$(PY) -m smart_support.knowledge search "$(Q)"

seed: install ## seed the demo orders into an AWS stage: make seed ORDERS_TABLE=...
	$(PY) -m smart_support.store.demo_data

token: install ## mint a dev token: make token SUB=c-2001, make token SUB=op-1 ROLE=operator NAME=Alice
	@$(PY) -m local.token --sub "$(or $(SUB),demo-customer)" --role "$(or $(ROLE),customer)" --name "$(NAME)"

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) $(PEER) $(BROWSER_NPM) .aws-sam .pytest_cache .mypy_cache .ruff_cache
