#!/usr/bin/env bash
# Make PostgreSQL and RabbitMQ reachable on 127.0.0.1: start them if installed but stopped,
# install them with apt-get if missing. Idempotent: does nothing when both already answer.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "dev-deps: need root for: $*" >&2; exit 1; fi; }

apt_install() {
  echo "dev-deps: installing $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  if pg_up; then return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql postgresql-client; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { echo "dev-deps: PostgreSQL did not come up" >&2; exit 1; }
  # A fresh Debian cluster wants a password over TCP; give the dev user the dev password that
  # scripts/dev.env uses (a no-op where trust auth is configured).
  if ! psql -q -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    as_root runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  fi
}

rabbit_up() { rabbitmqctl -q await_startup >/dev/null 2>&1; }

ensure_rabbitmq() {
  if command -v rabbitmqctl >/dev/null && timeout 20 rabbitmqctl -q status >/dev/null 2>&1; then
    rabbit_up && return
  fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  # The node inherits the packaged 1024 open files (about 830 sockets): the test suite's parallel
  # stacks exceed that, and past it the node silently stops answering new connections.
  local env_conf=/etc/rabbitmq/rabbitmq-env.conf
  if ! grep -q 'ulimit -n' "$env_conf" 2>/dev/null; then
    echo 'ulimit -n 20000 2>/dev/null || true' | as_root tee -a "$env_conf" >/dev/null || true
  fi
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  # rabbitmqctl exits 69 at once until the node exists; then await_startup blocks until ready.
  for _ in $(seq 1 120); do rabbit_up && break; sleep 0.5; done
  rabbit_up || { echo "dev-deps: RabbitMQ did not come up" >&2; exit 1; }
  # The app may have been stopped with stop_app (tests do that); start_app is a no-op otherwise.
  as_root rabbitmqctl -q start_app >/dev/null 2>&1 || true
}

ensure_postgres
ensure_rabbitmq
echo "dev-deps: PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 are up" >&2
