#!/usr/bin/env bash
# User-space instructions per request of each proxy, under valgrind's callgrind: a number that does
# not depend on what else the machine is doing, unlike run.sh's req/s. Each proxy runs with one
# worker in front of one anvil; counters are zeroed after a warm-up, then wrk sends requests for
# BENCH_CG_DURATION (3s) over 4 connections, and the proxy is stopped so that callgrind writes its
# profile. Kernel time (syscalls, loopback TCP) is not counted: the proxies make about the same
# syscalls per request (2 sends, 2 receives), so this compares the work each does in user space.
#
#   bash bench/callgrind.sh [path/to/nodeops]     # appends to bench/RESULTS.md (BENCH_RESULTS=- : not)
#                                                 # profiles stay in bench/out/callgrind/
#   callgrind_annotate --inclusive=yes bench/out/callgrind/callgrind.out.gateway | less
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODEOPS=$(realpath -m "${1:-$ROOT/build/release/nodeops}")
cd "$ROOT"
DURATION=${BENCH_CG_DURATION:-3s}
TARGETS=${BENCH_TARGETS:-nginx haproxy gateway}
OUT=$ROOT/bench/out/callgrind
ANVIL=${ANVIL:-$ROOT/.tools/bin/anvil}
command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rpc_ok() {
  curl -s -m 1 -X POST -H 'Content-Type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}' "$1" 2>/dev/null | grep -q '"result"'
}
wait_ok() { for _ in $(seq 150); do rpc_ok "$1" && return 0; sleep 0.2; done; echo "callgrind: $1 not answering" >&2; exit 1; }

ANVIL_PORT=$(free_port)
"$ANVIL" --host 127.0.0.1 --port "$ANVIL_PORT" --quiet >"$OUT/anvil.log" 2>&1 &
PIDS+=($!)
wait_ok "http://127.0.0.1:$ANVIL_PORT/"

TABLE="| proxy (1 worker) | requests | instructions/request |
|---|---:|---:|"
for t in $TARGETS; do
  port=$(free_port)
  fill() { sed -e "s|@WORKERS@|1|g" -e "s|@BATCHING@|auto|g" -e "s|@TMP@|$OUT|g" -e "s|@PORT@|$port|g" -e "s|@ANVIL_PORT@|$ANVIL_PORT|g" \
    -e "s|@ADMIN_PORT@|$(free_port)|g" -e 's|^master_process on;|master_process off;|' "$1" >"$2"; }
  vg=(valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.$t")
  case $t in
    nginx) fill bench/nginx.conf "$OUT/nginx.conf"
      "${vg[@]}" /usr/sbin/nginx -p "$OUT" -e "$OUT/nginx-error.log" -c "$OUT/nginx.conf" >"$OUT/$t.log" 2>&1 & ;;
    haproxy) fill bench/haproxy.cfg "$OUT/haproxy.cfg"
      "${vg[@]}" haproxy -db -f "$OUT/haproxy.cfg" >"$OUT/$t.log" 2>&1 & ;;
    gateway) fill bench/gateway.yaml "$OUT/gateway.yaml"
      "${vg[@]}" "$NODEOPS" gateway --config "$OUT/gateway.yaml" >"$OUT/$t.log" 2>&1 & ;;
    gateway-ws) fill bench/gateway.yaml "$OUT/gateway-ws.yaml"  # anvil over its WebSocket
      sed -i "s|url: \"http://|url: \"ws://|" "$OUT/gateway-ws.yaml"
      "${vg[@]}" "$NODEOPS" gateway --config "$OUT/gateway-ws.yaml" >"$OUT/$t.log" 2>&1 & ;;
    *) echo "callgrind: unknown target $t" >&2; exit 2 ;;
  esac
  pid=$!
  PIDS+=("$pid")
  url="http://127.0.0.1:$port/"
  wait_ok "$url"
  wrk -t1 -c4 -d2s -s bench/post.lua "$url" >/dev/null
  # Zeroing takes effect when the process next runs (nginx and HAProxy sleep until wrk starts), and
  # the profile written at exit then holds the measured run plus a negligible shutdown.
  callgrind_control -z "$pid" >/dev/null 2>&1
  requests=$(wrk -t1 -c4 -d"$DURATION" -s bench/post.lua "$url" | sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p')
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  ir=$(callgrind_annotate "$OUT/callgrind.out.$t" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
  TABLE+="
| $t | $requests | $(( ir / requests )) |"
done
echo "$TABLE"
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
if [[ $RESULTS != - ]]; then
  cmd="$( (env | grep -E '^BENCH_[A-Z_]+=' || true) | sort | tr '\n' ' ')bash bench/callgrind.sh ${1:-}"
  {
    printf '\n## %s — instructions per request (callgrind)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'Command: `%s` — one worker per proxy, wrk `-t1 -c4 -d%s` after a 2 s warm-up, user-space\n' "${cmd% }" "$DURATION"
    printf 'instructions only (kernel excluded), so the machine'"'"'s load does not change them. Machine: %s × %s, %s.\n' \
      "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" "$(uname -sr)"
    printf 'nodeops: %s built %s (HEAD %s).\n\n%s\n' "$(realpath --relative-to="$ROOT" "$NODEOPS")" \
      "$(date -u -r "$NODEOPS" '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD)" "$TABLE"
  } >>"$RESULTS"
  echo "callgrind: appended to $RESULTS" >&2
fi
