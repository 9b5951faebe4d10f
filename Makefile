# paycore entry points. CI calls the same targets (see .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help
BIN := node_modules/.bin
export NPM_CONFIG_UPDATE_NOTIFIER := false
export NPM_CONFIG_FUND := false
export NPM_CONFIG_AUDIT := false

MOCHA := $(BIN)/mocha --require tsx/cjs --require packages/testing/src/mocha-root-hooks.ts --exit
UNIT_TESTS := 'packages/*/src/**/*.test.ts' 'services/*/src/**/*.test.ts'
SERVICE_TESTS := 'packages/*/test/**/*.test.ts' 'services/*/test/**/*.test.ts'
E2E_TESTS := 'test/**/*.test.ts'

.PHONY: help setup gen build client lint breaking fmt test test-unit test-service test-e2e up down demo bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## install dependencies exactly as locked (npm ci)
	npm ci --no-audit --no-fund

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

gen: node_modules/.package-lock.json ## generate TypeScript from proto (offline, buf + local ts-proto)
	rm -rf packages/proto/src/gen packages/platform/test/gen packages/client/src/generated
	$(BIN)/buf generate --template buf.gen.yaml --path proto/paycore --path proto/google --path proto/grpc
	$(BIN)/buf generate --template buf.gen.test.yaml --path packages/platform/test/proto/paycore
	$(BIN)/tsx packages/client/scripts/gen-catalogue.ts

build: gen ## type-check everything (services run TypeScript through tsx; see docs/adr/0001)
	$(BIN)/tsc -p tsconfig.json

client: gen ## build @paycore/client (tsc into packages/client/dist) and pack it: packages/client/paycore-client-<version>.tgz
	$(BIN)/tsx packages/client/scripts/build.ts

lint: gen ## buf lint, buf breaking against main, eslint (zero warnings) and prettier
	$(BIN)/buf lint
	$(MAKE) --no-print-directory breaking
	$(BIN)/eslint --max-warnings 0 .
	$(BIN)/prettier --check .

breaking: ## buf breaking: the protos must stay wire- and source-compatible with main (BUF_AGAINST_REF=<branch> overrides)
	@if git rev-parse --verify --quiet $${BUF_AGAINST_REF:-main} >/dev/null; then \
	  $(BIN)/buf breaking --against ".git#branch=$${BUF_AGAINST_REF:-main}"; \
	else echo "buf breaking: no '$${BUF_AGAINST_REF:-main}' branch here; skipped"; fi

fmt: ## format the code
	$(BIN)/prettier --write .

test: setup build lint ## everything CI checks: install, generate, type-check, lint, unit, service and end-to-end tests
	scripts/infra.sh ensure
	scripts/ensure-tools.sh
	$(MAKE) --no-print-directory test-unit test-service test-e2e

test-unit: ## pure unit tests (no Postgres or NATS)
	$(MOCHA) $(UNIT_TESTS)

test-service: ## service and package tests against real Postgres and NATS
	$(MOCHA) --timeout 120000 $(SERVICE_TESTS)

test-e2e: ## cross-service tests, every service a real process
	@if compgen -G 'test/**/*.test.ts' > /dev/null || ls test/*.test.ts >/dev/null 2>&1; then $(MOCHA) --timeout 300000 $(E2E_TESTS); else echo "no end-to-end tests yet"; fi

up: gen ## start Postgres, NATS and every service in the background (.run/)
	scripts/up.sh

down: ## stop what `make up` started, and nothing else
	scripts/down.sh

demo: up ## run a scripted payment day against the running platform
	$(BIN)/tsx scripts/demo.ts

bench: gen ## benchmarks that print figures (not tests)
	scripts/infra.sh ensure
	@set -e; for b in services/*/bench/*.bench.ts packages/*/bench/*.bench.ts test/bench/*.bench.ts; do \
	  if [ -f "$$b" ]; then echo "== $$b"; $(BIN)/tsx "$$b"; fi; \
	done

clean: down ## stop what make up started, remove generated code and run state
	rm -rf packages/proto/src/gen packages/platform/test/gen .run
