#!/usr/bin/env bash
# The userspace forwarder vs HAProxy on loopback (see bench/proxy_vs_haproxy.py).
# Needs apt nginx-light haproxy wrk; runs ~1 minute (9 wrk runs of --seconds, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(pwd)/.venv/bin/python}
exec "$PY" bench/proxy_vs_haproxy.py "$@"
