# The two commands that matter: `make run` and `make test`. See README.md.
SHELL := /bin/bash
export AWS_LC_SYS_USE_SYSTEM := 0
ROLE ?= learner
SUB ?=

.PHONY: run stop test test-replicas deps lint deny audit sbom fmt token k8s-check build bench bench-hotspots fuzz coverage observe promtool-check chaos backup restore

run:            ## dependencies, migrations, every service + stripe-fake; prints the gateway URL
	@scripts/run-all.sh

observe:        ## Prometheus scraping the `make run` stack with the alert rules loaded; prints its URL
	@scripts/observe.sh

stop:           ## stop what `make run` started (and `make observe`)
	@scripts/stop-all.sh

deps:           ## PostgreSQL + RabbitMQ reachable on 127.0.0.1
	@scripts/dev-deps.sh

build:
	cargo build --workspace --all-targets

test: deps      ## the whole test suite on the real PostgreSQL and RabbitMQ
	@scripts/check-migrations.sh
	cargo test --workspace --no-fail-fast
	@$(MAKE) --no-print-directory test-replicas
	@scripts/chaos.sh
	@if [ -x scripts/k8s-check.sh ]; then scripts/k8s-check.sh; fi
	@scripts/promtool-check.sh
	@FUZZ_SECONDS=$${FUZZ_SMOKE_SECONDS:-5} scripts/fuzz.sh

# Every flow but: the broker restart (it stops RabbitMQ for everyone), the checks of one process's
# metrics and dashboards, the API fuzzer (the API's shape does not change with replicas), and
# replicas:: (two replicas whatever the setting: it already ran), and the restore drills (one
# service stopped and restored: a matter of its data, not of how many replicas serve it).
REPLICA_SKIPS := --skip broker_restart --skip observability:: --skip dashboards:: --skip api_fuzz:: --skip replicas:: --skip restore::

test-replicas: deps ## the e2e flows again at two replicas of every service and two gateways (~4.5 min)
	E2E_REPLICAS=2 cargo test -p e2e --test flows -- $(REPLICA_SKIPS)

chaos:          ## two replicas per service as real processes: kill -9 mid-burst, rolling restart under load (~2 min)
	@scripts/chaos.sh

bench:          ## release stack + seeded data + open-loop load: prints the latency table (never part of `make test`)
	@scripts/bench.sh

fuzz:           ## every parser of untrusted bytes under cargo-fuzz, FUZZ_SECONDS each (60); needs nightly
	@scripts/fuzz.sh

coverage:       ## line coverage of the test suite per crate against the 80 % target (cargo-llvm-cov; ~40 min)
	@scripts/coverage.sh

bench-hotspots: ## pgbench on the write hot spots replicas do not fix (one histogram row, the receipt counter)
	@scripts/bench-hotspots.sh

lint:           ## clippy (warnings are errors), formatting, and the supply-chain policy (deny.toml)
	cargo clippy --workspace --all-targets -- -D warnings
	cargo fmt --all --check
	@scripts/deny.sh

deny:           ## cargo-deny: licenses, bans, sources (offline; installs cargo-deny once)
	@scripts/deny.sh

audit:          ## cargo-deny advisories: needs the RustSec database (unreachable here, so not in CI)
	@scripts/deny.sh advisories

sbom:           ## one CycloneDX SBOM per service binary into target/sbom (installs cargo-cyclonedx once)
	@scripts/sbom.sh

fmt:
	cargo fmt --all

token:          ## print a dev JWT: make -s token ROLE=admin [SUB=uuid]
	@scripts/dev-token.sh "$(ROLE)" "$(SUB)"

promtool-check: ## the alert rules: syntax, promtool unit tests, metric names against docs/operations.md
	@scripts/promtool-check.sh

backup:         ## logical backup of one service's schema: make backup SERVICE=rewards [FILE=backups/x.dump]
	@scripts/backup.sh "$(SERVICE)" $(FILE)

restore:        ## restore one: make restore SERVICE=rewards FILE=x.dump [ARGS="--create-database --replace --jobs 2"]
	@scripts/restore.sh "$(SERVICE)" "$(FILE)" $(ARGS)

k8s-check:      ## render and validate the Kubernetes manifests offline
	@scripts/k8s-check.sh
