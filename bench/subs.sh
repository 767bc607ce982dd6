#!/usr/bin/env bash
# newHeads fan-out to many WebSocket subscribers (bench/subs_fanout.js): one anvil, the gateway
# (2 threads, health_interval 100ms) in front, N subscribers from one Node process on this machine.
#   bash bench/subs.sh [build/release/nodeops]   env: BENCH_SUBSCRIBERS [10000], BENCH_BLOCKS [30]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/release/nodeops}
ANVIL=${ANVIL:-$ROOT/.tools/bin/anvil}
N=${BENCH_SUBSCRIBERS:-10000}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # N client sockets and N gateway sockets
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AP=$(free_port) GP=$(free_port) MP=$(free_port)
cleanup() { kill "${GW_PID:-}" "${ANVIL_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$ANVIL" --port "$AP" --silent --no-mining >"$WORK/anvil.log" 2>&1 & ANVIL_PID=$!
cat >"$WORK/gateway.yaml" <<YAML
listen: 127.0.0.1:$GP
admin_listen: 127.0.0.1:$MP
threads: 2
limits: { max_connections: $((N + 1000)) }
websocket: { max_connections: $((N + 1000)), max_connections_per_ip: $((N + 1000)) }
chains:
  - name: ethereum
    type: evm
    chain_id: 31337
    health_interval: 100ms
    upstreams:
      - { name: anvil, url: "http://127.0.0.1:$AP" }
YAML
for _ in $(seq 100); do curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' "http://127.0.0.1:$AP" && break; sleep 0.1; done
"$BIN" gateway --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 & GW_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$GP/readyz" && break; sleep 0.1; done
echo "machine: $(nproc) CPUs, $(uname -r); ulimit -n $(ulimit -n); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
WS_PATH="$ROOT/.tools/node_modules/ws" node "$ROOT/bench/subs_fanout.js" "ws://127.0.0.1:$GP/" "http://127.0.0.1:$AP" \
  "$GW_PID" "http://127.0.0.1:$MP/metrics" "$N" "${BENCH_BLOCKS:-30}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
