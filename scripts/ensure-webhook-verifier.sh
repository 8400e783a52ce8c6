#!/usr/bin/env bash
# Makes sure a Python virtualenv with the Standard Webhooks reference library (PyPI
# `standardwebhooks`, pinned) exists, so the e2e webhooks flow (e2e/tests/flows/webhooks.rs)
# verifies our signatures with an implementation that is not ours. Prints the venv's python on
# stdout. The venv lives outside the clone (like the target dir): WEBHOOK_VERIFIER_VENV, default
# ~/.cache/monetization/webhook-verifier.
set -euo pipefail
VERSION=1.1.0
VENV="${WEBHOOK_VERIFIER_VENV:-$HOME/.cache/monetization/webhook-verifier}"
PY="$VENV/bin/python"
if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('standardwebhooks') != '$VERSION')" 2>/dev/null; then
    echo "$PY"
    exit 0
fi
echo "ensure-webhook-verifier: installing standardwebhooks==$VERSION into $VENV" >&2
if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian splits venv (with its pip) into its own package.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$VENV"
fi
"$PY" -m pip install -q --disable-pip-version-check "standardwebhooks==$VERSION" >&2
echo "$PY"
