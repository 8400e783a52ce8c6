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

# The node inherits the packaged 1024 open files (about 830 sockets): the test suite's parallel
# stacks exceed that, and past it the node silently stops answering new connections. The env file
# is read when the node starts, so this takes effect at its next (re)start.
# DEV_DEPS_RABBITMQ_ENV_CONF: another file to write (to try this script without touching /etc).
RABBITMQ_ENV_CONF=${DEV_DEPS_RABBITMQ_ENV_CONF:-/etc/rabbitmq/rabbitmq-env.conf}
WANT_FILES=10000
AMQP_PORT=${DEV_DEPS_AMQP_PORT:-5672} # another port only to try the wedged-broker check
ensure_fd_setting() {
  if ! grep -q '^[[:space:]]*ulimit -n' "$RABBITMQ_ENV_CONF" 2>/dev/null; then
    # A file without a final newline would glue the line onto its last one.
    local nl=""
    [ -s "$RABBITMQ_ENV_CONF" ] && [ -n "$(tail -c 1 "$RABBITMQ_ENV_CONF")" ] && nl=$'\n'
    printf '%sulimit -n 20000 2>/dev/null || true\n' "$nl" | as_root tee -a "$RABBITMQ_ENV_CONF" >/dev/null || true
  fi
}

# A node that was already running: is its socket limit the packaged default? Then make sure the
# env file raises it and restart the node if no client is connected to it (a node started at boot
# never read the raised limit). A node with clients is left alone (it may be shared, and a restart
# drops every connection): the operator is told to restart it.
# "<sockets limit> <sockets used>" of the running node, empty when it cannot tell.
# "<open-file limit> <files open>" of the node listening on the AMQP port, read from /proc (no
# rabbitmqctl: on a wedged node it hangs, and as it switches to the rabbitmq user, `timeout`
# cannot reach its Erlang VM). Empty when it cannot tell.
rabbit_files() {
  local pid limit
  pid=$(ss -Hltnp "sport = :$AMQP_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$pid" ] && [ -r "/proc/$pid/limits" ] || return 0
  limit=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")
  echo "$limit $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
}

# Established client connections to the AMQP port (read from the kernel: no rabbitmqctl).
amqp_clients() { ss -Htn state established "sport = :$AMQP_PORT" 2>/dev/null | wc -l; }

# Stop the node and start it again (it reads $RABBITMQ_ENV_CONF as it starts). Only for the
# default port: another port is a test of this script's checks, not a node to restart.
restart_rabbit() {
  [ "$AMQP_PORT" = 5672 ] && command -v rabbitmq-server >/dev/null || return 1
  as_root rabbitmqctl -q stop >/dev/null 2>&1 || return 1
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 120); do rabbit_up && break; sleep 0.5; done
  rabbit_up && for _ in $(seq 1 40); do tcp_accepts && return 0; sleep 0.5; done
  return 1
}

check_rabbit_fd_limit() {
  local limit used
  read -r limit used < <(rabbit_files) || return 0
  [[ "$limit" =~ ^[0-9]+$ ]] || return 0
  if [ "$limit" -lt "$WANT_FILES" ]; then
    ensure_fd_setting
    if [ "$(amqp_clients)" = 0 ] && restart_rabbit; then
      read -r limit used < <(rabbit_files) || true
      echo "dev-deps: restarted the idle RabbitMQ node to raise its open-file limit (now ${limit:-unknown})" >&2
      [[ "${limit:-0}" =~ ^[0-9]+$ ]] && [ "${limit:-0}" -ge "$WANT_FILES" ] && return 0
    fi
    cat >&2 <<MSG
dev-deps: WARNING: RabbitMQ is running with an open-file limit of $limit ($used open), the
dev-deps:   packaged default (1024: about 830 sockets). The test suite's parallel stacks
dev-deps:   need more, and past the limit the broker stops answering new connections (TCP accepts,
dev-deps:   AMQP never answers). $RABBITMQ_ENV_CONF has 'ulimit -n 20000' now; RESTART RabbitMQ
dev-deps:   when nothing else uses it for this to take effect, e.g.:
dev-deps:     rabbitmqctl stop && rabbitmq-server -detached && rabbitmqctl await_startup
MSG
  fi
}

# TCP accepts but the broker never answers the AMQP 0-9-1 protocol header: wedged (typically out
# of sockets). Every client would hang until its own timeout, so say so now.
amqp_answers() {
  local got
  got=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "AMQP\0\0\11\1" >&3
    head -c 8 <&3 | wc -c' _ "$AMQP_PORT" 2>/dev/null) || return 1
  [ "${got:-0}" -ge 8 ]
}

check_amqp_handshake() {
  for _ in 1 2 3; do amqp_answers && return 0; sleep 1; done
  local limit used fds=""
  read -r limit used < <(rabbit_files) || true
  [ -n "${limit:-}" ] && fds="Its files open: ${used:-?} of $limit."
  cat >&2 <<MSG
dev-deps: ERROR: RabbitMQ on 127.0.0.1:$AMQP_PORT accepts connections but does not answer the AMQP
dev-deps:   handshake (sent the 0-9-1 protocol header, got no 8 bytes back within 5 s): the broker is
dev-deps:   wedged, most often out of sockets. $fds
dev-deps:   Restart it (rabbitmqctl stop; rabbitmq-server -detached) once nothing else depends on it;
dev-deps:   $RABBITMQ_ENV_CONF should raise the open-file limit ('ulimit -n 20000').
MSG
  exit 1
}

tcp_accepts() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$AMQP_PORT" 2>/dev/null; }

ensure_rabbitmq() {
  # Already running: a node that answers AMQP is up (its socket limit checked); one that accepts
  # TCP but never answers is wedged, and starting another would not help.
  if tcp_accepts; then
    check_amqp_handshake
    check_rabbit_fd_limit
    return
  fi
  if command -v rabbitmqctl >/dev/null && timeout 20 rabbitmqctl -q status >/dev/null 2>&1 </dev/null; then
    if rabbit_up; then
      check_rabbit_fd_limit
      check_amqp_handshake
      return
    fi
  fi
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  ensure_fd_setting
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  # rabbitmqctl exits 69 at once until the node exists; then await_startup blocks until ready.
  for _ in $(seq 1 120); do rabbit_up && break; sleep 0.5; done
  rabbit_up || { echo "dev-deps: RabbitMQ did not come up" >&2; exit 1; }
  # The app may have been stopped with stop_app (tests do that); start_app is a no-op otherwise.
  as_root rabbitmqctl -q start_app >/dev/null 2>&1 || true
  check_amqp_handshake
}

# billing's invoice test reads its PDF back with poppler's pdftotext and pdfinfo.
ensure_poppler() {
  command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null || apt_install poppler-utils
}

ensure_postgres
ensure_rabbitmq
ensure_poppler
echo "dev-deps: PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 are up" >&2
