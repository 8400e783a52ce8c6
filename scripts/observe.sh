#!/usr/bin/env bash
# `make observe`: a Prometheus scraping the dev stack's metrics ports (gateway 9080, services
# 9081-9086, as `make run` sets them) with the alert rules of deploy/prometheus/rules.yml loaded.
# Installs Debian's `prometheus` package when missing (scripts/ensure-prometheus.sh), runs it
# in the background with its data under .run/prometheus, and prints its URL. `make stop` stops it.
# Knob: OBSERVE_PORT (default 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${OBSERVE_PORT:-9090}

scripts/ensure-prometheus.sh

DIR=.run/prometheus
mkdir -p "$DIR/data" .run/logs
if [ -e .run/prometheus.pid ] && kill -0 "$(cat .run/prometheus.pid)" 2>/dev/null; then
    echo "observe: already running: http://127.0.0.1:$PORT"
    exit 0
fi
cp deploy/prometheus/rules.yml "$DIR/rules.yml"
{
    cat <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - rules.yml
scrape_configs:
YAML
    i=0
    for job in gateway billing subscriptions marketplace rewards licensing webhooks; do
        cat <<YAML
  - job_name: $job
    static_configs:
      - targets: ["127.0.0.1:$((9080 + i))"]
YAML
        i=$((i + 1))
    done
} > "$DIR/prometheus.yml"
promtool check config "$DIR/prometheus.yml" >/dev/null

prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="127.0.0.1:$PORT" > .run/logs/prometheus.log 2>&1 &
echo $! > .run/prometheus.pid
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null || { cat .run/logs/prometheus.log; exit 1; }
cat <<MSG

  Prometheus:   http://127.0.0.1:$PORT   (targets: /targets, alerts: /alerts)
  Scraping:     gateway :9080, billing :9081, subscriptions :9082, marketplace :9083, rewards :9084, licensing :9085, webhooks :9086
  Logs:         .run/logs/prometheus.log      Stop: make stop

MSG
