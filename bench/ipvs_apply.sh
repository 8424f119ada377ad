#!/usr/bin/env bash
# Kernel IPVS programming benchmark, in a User-Mode-Linux guest (see bench/ipvs_apply.py).
# Needs root, apt user-mode-linux ipvsadm kmod, and ../shared/tools/run-in-ipvs-vm.sh
# (LVSTUI_SHARED overrides where shared/ is). Arguments go to ipvs_apply.py.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${LVSTUI_SHARED:-$(cd .. && pwd)/shared}
[ -x "$SHARED/tools/run-in-ipvs-vm.sh" ] || { echo "no $SHARED/tools/run-in-ipvs-vm.sh" >&2; exit 2; }
PY=$(pwd)/.venv/bin/python
# the wrapper lets Debian 12's UML kernel run on hosts with AVX-512/AMX (see its docstring)
export IPVSVM_KERNEL=${IPVSVM_KERNEL:-$(pwd)/tests/vm/uml-kernel}
export IPVSVM_TIMEOUT=${IPVSVM_TIMEOUT:-600}
exec "$SHARED/tools/run-in-ipvs-vm.sh" "$PY" bench/ipvs_apply.py "$@"
