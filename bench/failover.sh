#!/usr/bin/env bash
# VRRP failover time, lvstui vs keepalived 2.2.7, in one network-namespace lab (root).
#   bench/failover.sh            # RUNS=3 per case by default; RUNS=5 bench/failover.sh
# Builds its own lab (prefix lvt-vrrp-b-) with ../shared/tools/vrrp-lab/vrrp-lab.sh, tears
# it down at the end; see bench/failover.py for what is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" bench/failover.py "$@"
