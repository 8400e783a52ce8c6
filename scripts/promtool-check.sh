#!/usr/bin/env bash
# Check the Prometheus alert rules: syntax (`promtool check rules`), unit tests (`promtool test
# rules`: each alert fires on a series that should page and stays quiet on one that should not),
# that every metric the rules use is in the metrics table of docs/operations.md (the names the
# services export).
# scripts/ensure-prometheus.sh installs Debian's `prometheus` package (which ships promtool) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-prometheus.sh

RULES=deploy/prometheus/rules.yml
promtool check rules "$RULES"
promtool test rules deploy/prometheus/rules_test.yml

# Every metric a rule reads must be one the services export: the table in docs/operations.md
# lists them (a histogram or counter family by its base name).
python3 - "$RULES" docs/operations.md <<'PY'
import re, sys
rules, ops = open(sys.argv[1]).read(), open(sys.argv[2]).read()
documented = set(re.findall(r"^\| `([a-z_:]+)`", ops, re.M))
exprs = "\n".join(re.findall(r"expr: (\|[\s\S]*?(?=\n\s+(?:for|labels):)|.*)", rules))
used = set(re.findall(r"\b([a-z_]+(?:_total|_bucket|_count|_sum|_seconds|_messages|_requests|_connections|_pending)?)\{", exprs))
used |= set(re.findall(r"(?<!by )\(([a-z_]+)\)", exprs))
missing = []
for name in sorted(used):
    if name.startswith("job:") or name in {"up", "rate", "sum", "max", "increase", "time"}:
        continue
    base = re.sub(r"_(total|bucket|count|sum)$", "", name)
    if name not in documented and base not in documented:
        missing.append(name)
if missing:
    sys.exit(f"promtool-check: metrics used by the rules but not in docs/operations.md: {missing}")
print(f"promtool-check: {len(used)} metric names in the rules, all documented")
PY

