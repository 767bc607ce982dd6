#!/usr/bin/env bash
# Calls/s over WebSocket vs HTTP keep-alive through the gateway, same Node client for both
# (bench/ws_vs_http.js), one anvil behind it. Prints the machine, the load and one JSON line per mode.
#   bash bench/ws.sh [build/release/nodeops]   env: BENCH_SECONDS [10], BENCH_CONNS [32], BENCH_DEPTH [4]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/nodeops}
ANVIL=${ANVIL:-$ROOT/.tools/bin/anvil}
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AP=$(free_port) GP=$(free_port) MP=$(free_port)
cleanup() { kill "${GW_PID:-}" "${ANVIL_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$ANVIL" --port "$AP" --silent >"$WORK/anvil.log" 2>&1 & ANVIL_PID=$!
sed -e "s/@WORKERS@/2/" -e "s/@PORT@/$GP/" -e "s/@ADMIN_PORT@/$MP/" -e "s/@ANVIL_PORT@/$AP/" -e "s/@BATCHING@/auto/" \
  "$ROOT/bench/gateway.yaml" >"$WORK/gateway.yaml"
for _ in $(seq 100); do curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' "http://127.0.0.1:$AP" && break; sleep 0.1; done
"$BIN" gateway --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 & GW_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$GP/readyz" && break; sleep 0.1; done
echo "machine: $(nproc) CPUs, $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
WS_PATH="$ROOT/.tools/node_modules/ws" node "$ROOT/bench/ws_vs_http.js" "http://127.0.0.1:$GP/" "$GW_PID" \
  "${BENCH_SECONDS:-10}" "${BENCH_CONNS:-32}" "${BENCH_DEPTH:-4}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
