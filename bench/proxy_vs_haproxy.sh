#!/usr/bin/env bash
# The userspace forwarder vs HAProxy on loopback (see bench/proxy_vs_haproxy.py).
# Needs apt nginx-light haproxy wrk; runs ~1.5 minutes (2 rounds of 9 wrk runs of 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(pwd)/.venv/bin/python}
exec "$PY" bench/proxy_vs_haproxy.py "$@"
