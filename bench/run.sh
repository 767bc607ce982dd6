#!/usr/bin/env bash
# `make bench`: one anvil on loopback, then wrk against it directly and through nginx, HAProxy and
# the nodeops gateway, one target after the other with the same wrk parameters. Prints a table and
# appends it, with the command and the machine, to bench/RESULTS.md. bench/README.md explains the
# numbers.
#
#   bash bench/run.sh [path/to/nodeops]
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10s]      wrk -d per target, after BENCH_WARMUP [2s] of unmeasured load
#   BENCH_CONNECTIONS [32]    wrk -c;  BENCH_THREADS [2]: wrk -t
#   BENCH_ROUNDS [1]          run all targets this many times, interleaved; the table shows medians
#   BENCH_WORKERS [nproc]     worker processes/threads of every proxy (nginx, HAProxy, gateway)
#   BENCH_TARGETS             subset/order of "direct nginx haproxy gateway"; also gateway-unbatched
#                             (the gateway with upstream batching off) and gateway-edge (the gateway
#                             with an API key required, token buckets, trusted proxies and CORS), and
#                             gateway-edge-shared (the same with the key's bucket in a local
#                             redis-server: rate_limits.redis, one Lua call per request), and
#                             gateway-tls (bench/gateway.yaml with client-facing TLS: wrk over https,
#                             a throwaway self-signed certificate), and gateway-ws (bench/gateway.yaml
#                             with anvil reached over its WebSocket, ws://, instead of HTTP)
#   BENCH_METHOD [blockNumber]  the call every request makes: blockNumber or getBalance
#   BENCH_PIN_WRK, BENCH_PIN_ANVIL, BENCH_PIN_TARGET
#                             taskset CPU lists (e.g. 1, 0, 0); empty = not pinned (the default)
#   BENCH_RESULTS [bench/RESULTS.md]  where the section is appended; BENCH_RESULTS=- appends nothing
#   BENCH_NOTE                free text added to the section (e.g. "machine busy with a build")
#   BENCH_MICRO=1             also build bench/micro in build/bench (minutes) and append its output
#   ANVIL [.tools/bin/anvil], WRK [wrk], NGINX [/usr/sbin/nginx], HAPROXY [haproxy]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODEOPS=$(realpath -m "${1:-$ROOT/build/release/nodeops}")
cd "$ROOT"

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-$(nproc)}
ROUNDS=${BENCH_ROUNDS:-1}
TARGETS=${BENCH_TARGETS:-direct nginx haproxy gateway}
PIN_WRK=${BENCH_PIN_WRK:-}
PIN_ANVIL=${BENCH_PIN_ANVIL:-}
PIN_TARGET=${BENCH_PIN_TARGET:-}
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
ANVIL=${ANVIL:-$ROOT/.tools/bin/anvil}
WRK=${WRK:-wrk}
NGINX=${NGINX:-/usr/sbin/nginx}
HAPROXY=${HAPROXY:-haproxy}
case ${BENCH_METHOD:-blockNumber} in
  blockNumber) BODY='{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}' ;;
  getBalance) BODY='{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","latest"]}' ;;
  *) echo "bench: BENCH_METHOD must be blockNumber or getBalance" >&2; exit 1 ;;
esac
export BENCH_BODY=$BODY  # bench/post.lua sends it

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

for tool in "$ANVIL" "$WRK" curl python3 taskset; do
  command -v "$tool" >/dev/null || die "$tool not found (make bootstrap installs it)"
done
for t in $TARGETS; do
  case $t in
    direct) ;;
    nginx) [[ -x $NGINX ]] || die "nginx not found at $NGINX" ;;
    haproxy) command -v "$HAPROXY" >/dev/null || die "haproxy not found" ;;
    gateway|gateway-unbatched|gateway-edge) [[ -x $NODEOPS ]] || die "nodeops binary not found at $NODEOPS (make build)" ;;
    gateway-tls|gateway-ws) [[ -x $NODEOPS ]] || die "nodeops binary not found at $NODEOPS (make build)" ;;
    gateway-edge-shared) [[ -x $NODEOPS ]] || die "nodeops binary not found at $NODEOPS (make build)"
      command -v redis-server >/dev/null || die "redis-server not found (make bootstrap installs it)" ;;
    *) die "unknown target '$t' in BENCH_TARGETS" ;;
  esac
done

# Seconds in a wrk duration ("10s", "1m", "500ms" rounds up to 1).
seconds() {
  local d=$1
  case $d in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *) echo "$d" ;;
  esac
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nodeops-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
finish() {
  cleanup
  # Keep the logs of the last run for a look after a failure; bench/out is git-ignored.
  rm -rf "$ROOT/bench/out/last"
  mkdir -p "$ROOT/bench/out" && mv "$TMP" "$ROOT/bench/out/last" 2>/dev/null || rm -rf "$TMP"
}
trap finish EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

# pin CPUS CMD...: CMD under taskset when CPUS is set.
pin() {
  local cpus=$1
  shift
  if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# start NAME CPUS CMD...: CMD in the background, logs in $TMP/NAME.log; sets STARTED_PID.
start() {
  local name=$1 cpus=$2
  shift 2
  # exec (also through taskset) so that $! is the process itself and stop() reaches it.
  (if [[ -n $cpus ]]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi) >"$TMP/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# stop PID: TERM, wait, KILL; drops it from PIDS.
stop() {
  local pid=$1 keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# BENCH_AUTH: the Authorization header of every request (set for gateway-edge only; post.lua sends it too).
rpc() { curl -ksS --max-time 2 -X POST -H 'Content-Type: application/json' ${BENCH_AUTH:+-H "Authorization: $BENCH_AUTH"} --data "$BODY" "$1"; }

# wait_rpc NAME URL PID: until URL answers eth_blockNumber with a result (15 s at most).
wait_rpc() {
  local name=$1 url=$2 pid=$3
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$name.log" >&2; die "$name exited at startup"; }
    if rpc "$url" 2>/dev/null | grep -q '"result"'; then return 0; fi
    sleep 0.1
  done
  tail -20 "$TMP/$name.log" >&2
  die "$name did not answer eth_blockNumber at $url within 15 s"
}

# CPU seconds (user+system) used so far by PID and its child processes (nginx's workers).
cpu_seconds() {
  local pid=$1 ticks=0 p
  local hz
  hz=$(getconf CLK_TCK)
  for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
    [[ -r /proc/$p/stat ]] || continue
    # Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    ticks=$(( ticks + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}') ))
  done
  awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.3f", t / hz }'
}

# ---- machine ---------------------------------------------------------------------------------------
version_of() { "$@" 2>&1 | head -1 | tr -d '\r' || true; }
MACHINE_CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
MACHINE_NPROC=$(nproc)
MACHINE_KERNEL=$(uname -sr)
MACHINE_MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
V_NGINX=$(version_of "$NGINX" -v | sed 's/^nginx version: nginx\///')
V_HAPROXY=$(version_of "$HAPROXY" -v | awk '{print $3}')
V_WRK=$(version_of "$WRK" -v | awk '{print $2}')
V_ANVIL=$(version_of "$ANVIL" --version | sed 's/^anvil Version: //')
V_NODEOPS="not run"
if [[ -x $NODEOPS ]]; then
  # The binary's version, and the commit of the tree it was built from (others may be editing src/).
  V_NODEOPS="$(version_of "$NODEOPS" --version) ($(realpath --relative-to="$ROOT" "$NODEOPS"), built $(date -u -r "$NODEOPS" '+%Y-%m-%d %H:%M UTC'), HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src/ had uncommitted changes'))"
fi
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
# Not `make`: `make bench` itself runs under make and made every run look disturbed.
compilers() { ps -eo comm= | grep -cxE 'cc1plus|cc1|clang(\+\+)?|rustc|ld|collect2|ninja' || true; }
# Share of all CPUs that other processes used over one second: the load average would also count
# the previous run of this script.
cpu_busy_percent() {
  local a b
  a=($(head -1 /proc/stat))
  sleep 1
  b=($(head -1 /proc/stat))
  awk -v u=$(( b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7] )) \
      -v t=$(( b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7] - a[8] )) \
      'BEGIN { printf "%.0f", (t > 0 ? 100 * u / t : 0) }'
}
LOAD_START=$(load_avg)
COMPILERS_START=$(compilers)
BUSY_START=$(cpu_busy_percent)

# ---- anvil: the one upstream of every target ---------------------------------------------------------
ANVIL_PORT=$(free_port)
start anvil "$PIN_ANVIL" "$ANVIL" --host 127.0.0.1 --port "$ANVIL_PORT" --quiet
ANVIL_PID=$STARTED_PID
wait_rpc anvil "http://127.0.0.1:$ANVIL_PORT/" "$ANVIL_PID"
log "anvil on 127.0.0.1:$ANVIL_PORT; wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), proxies with $WORKERS workers"

fill() {  # fill TEMPLATE OUT PORT [ADMIN_PORT]
  sed -e "s|@WORKERS@|$WORKERS|g" -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$3|g" -e "s|@ANVIL_PORT@|$ANVIL_PORT|g" \
    -e "s|@ADMIN_PORT@|${4:-0}|g" -e "s|@BATCHING@|${5:-auto}|g" "$1" >"$2"
}

# start_target NAME: starts it (nothing for direct); sets URL and TARGET_PID.
start_target() {
  local name=$1 port
  port=$(free_port)
  TARGET_PID=""
  unset BENCH_AUTH
  case $name in
    direct)
      URL="http://127.0.0.1:$ANVIL_PORT/"
      return 0
      ;;
    nginx)
      fill bench/nginx.conf "$TMP/nginx.conf" "$port"
      start nginx "$PIN_TARGET" "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf"
      ;;
    haproxy)
      fill bench/haproxy.cfg "$TMP/haproxy.cfg" "$port"
      "$HAPROXY" -c -q -f "$TMP/haproxy.cfg" || die "haproxy rejects $TMP/haproxy.cfg"
      start haproxy "$PIN_TARGET" "$HAPROXY" -db -f "$TMP/haproxy.cfg"
      ;;
    gateway)
      fill bench/gateway.yaml "$TMP/gateway.yaml" "$port" "$(free_port)"
      start gateway "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway.yaml"
      ;;
    gateway-unbatched)
      fill bench/gateway.yaml "$TMP/gateway-unbatched.yaml" "$port" "$(free_port)" off
      start gateway-unbatched "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway-unbatched.yaml"
      ;;
    gateway-edge)
      local key="bench-$RANDOM$RANDOM"
      printf 'keys:\n  - name: bench\n    sha256: %s\n    rps: 1000000000\n' \
        "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" >"$TMP/keys.yaml"
      export BENCH_AUTH="Bearer $key"
      fill bench/gateway_edge.yaml "$TMP/gateway-edge.yaml" "$port" "$(free_port)"
      start gateway-edge "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway-edge.yaml"
      ;;
    gateway-edge-shared)
      local key="bench-$RANDOM$RANDOM"
      printf 'keys:\n  - name: bench\n    sha256: %s\n    rps: 1000000000\n' \
        "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" >"$TMP/keys.yaml"
      export BENCH_AUTH="Bearer $key"
      if [[ -z ${REDIS_PORT:-} ]]; then  # one redis-server for every round, on the upstream's CPUs
        REDIS_PORT=$(free_port)
        start redis "$PIN_ANVIL" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no
        for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
      fi
      fill bench/gateway_edge.yaml "$TMP/gateway-edge-shared.yaml" "$port" "$(free_port)"
      sed -i "/^  global_rps:/a\\  redis: \"redis://127.0.0.1:$REDIS_PORT/0\"" "$TMP/gateway-edge-shared.yaml"
      start gateway-edge-shared "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway-edge-shared.yaml"
      ;;
    gateway-ws)
      fill bench/gateway.yaml "$TMP/gateway-ws.yaml" "$port" "$(free_port)"
      sed -i "s|url: \"http://127.0.0.1:$ANVIL_PORT\"|url: \"ws://127.0.0.1:$ANVIL_PORT\"|" "$TMP/gateway-ws.yaml"
      grep -q "ws://127.0.0.1:$ANVIL_PORT" "$TMP/gateway-ws.yaml" || die "gateway-ws: no ws:// upstream in its config"
      start gateway-ws "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway-ws.yaml"
      ;;
    gateway-tls)
      [[ -f $TMP/tls.crt ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
      fill bench/gateway.yaml "$TMP/gateway-tls.yaml" "$port" "$(free_port)"
      printf 'tls: { cert_file: %s, key_file: %s }\n' "$TMP/tls.crt" "$TMP/tls.key" >>"$TMP/gateway-tls.yaml"
      start gateway-tls "$PIN_TARGET" "$NODEOPS" gateway --config "$TMP/gateway-tls.yaml"
      TARGET_PID=$STARTED_PID
      URL="https://127.0.0.1:$port/"
      wait_rpc "$name" "$URL" "$TARGET_PID"
      return 0
      ;;
  esac
  TARGET_PID=$STARTED_PID
  URL="http://127.0.0.1:$port/"
  # For the gateway this also waits for the first health check to put anvil in rotation.
  wait_rpc "$name" "$URL" "$TARGET_PID"
}

# ---- run every target ------------------------------------------------------------------------------
# Per round, the values of every target are appended to these lists; the table shows medians.
declare -A L_RPS L_P50 L_P99 L_CPU L_ANVIL_CPU ERR NOTE
TIMEOUT=$(( $(seconds "$DURATION") + $(seconds "$WARMUP") + 30 ))
for round in $(seq "$ROUNDS"); do
for t in $TARGETS; do
  start_target "$t"
  log "$t: $URL (round $round of $ROUNDS)"
  pin "$PIN_WRK" timeout "$TIMEOUT" "$WRK" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s bench/post.lua "$URL" \
    >"$TMP/wrk-$t-$round-warmup.txt" 2>&1 || true
  cpu0_target=$([[ -n $TARGET_PID ]] && cpu_seconds "$TARGET_PID" || echo 0)
  cpu0_anvil=$(cpu_seconds "$ANVIL_PID")
  pin "$PIN_WRK" timeout "$TIMEOUT" "$WRK" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s bench/post.lua "$URL" >"$TMP/wrk-$t-$round.txt" 2>&1 || log "$t: wrk exited with $?"
  cpu1_target=$([[ -n $TARGET_PID ]] && cpu_seconds "$TARGET_PID" || echo 0)
  cpu1_anvil=$(cpu_seconds "$ANVIL_PID")
  # A reply must still be a JSON-RPC result after the load (not only a 2xx).
  after_ok=1
  rpc "$URL" 2>/dev/null | grep -q '"result"' || after_ok=0
  if [[ -n $TARGET_PID ]]; then stop "$TARGET_PID"; fi

  out="$TMP/wrk-$t-$round.txt"
  line=$(grep '^BENCH ' "$out" || true)
  if [[ -n $line ]]; then
    get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
    requests=$(get requests)
    rps=$(awk -v r="$requests" -v d="$(get duration_us)" 'BEGIN { printf "%.0f", (d > 0 ? r * 1e6 / d : 0) }')
    p50=$(get p50_us)
    p99=$(get p99_us)
    errors=$(( $(get connect) + $(get read) + $(get write) + $(get timeout) + $(get non2xx) ))
    detail="connect $(get connect), read $(get read), write $(get write), timeout $(get timeout), non-2xx $(get non2xx)"
  else
    # No done() line (another wrk build?): read --latency's table, whose units vary (us, ms, s).
    to_us() { awk '{ v = $1; if (v ~ /us$/) v += 0; else if (v ~ /ms$/) v *= 1000; else if (v ~ /s$/) v *= 1e6; printf "%.0f", v }' <<<"$1"; }
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
    requests=$(awk '/requests in/ { print $1 }' "$out")
    socket=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$out")
    non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$out")
    errors=$(( ${non2xx:-0} $(for n in $socket; do printf ' + %s' "$n"; done) ))
    detail="socket errors: ${socket:-none}, non-2xx ${non2xx:-0}"
  fi
  [[ -n $rps && -n $p50 && -n $p99 ]] || { cat "$out" >&2; die "$t: cannot read wrk's output"; }
  [[ $after_ok == 1 ]] || { errors=$(( errors + 1 )); detail="$detail; no JSON-RPC result after the run"; }
  ERR[$t]=$(( ${ERR[$t]:-0} + errors ))
  [[ $errors == 0 ]] || NOTE[$t]="${NOTE[$t]:+${NOTE[$t]}; }$detail"
  # Proxy CPU per request (its own processes, not anvil's): what it costs to forward one call.
  cpu=$(awk -v a="$cpu0_target" -v b="$cpu1_target" -v r="${requests:-0}" \
    'BEGIN { printf "%.1f", (r > 0 ? (b - a) * 1e6 / r : 0) }')
  anvil_cpu=$(awk -v a="$cpu0_anvil" -v b="$cpu1_anvil" -v r="${requests:-0}" \
    'BEGIN { printf "%.1f", (r > 0 ? (b - a) * 1e6 / r : 0) }')
  L_RPS[$t]+=" $rps"; L_P50[$t]+=" $p50"; L_P99[$t]+=" $p99"; L_CPU[$t]+=" $cpu"; L_ANVIL_CPU[$t]+=" $anvil_cpu"
  log "$t: $rps req/s, p50 $p50 us, p99 $p99 us, proxy CPU $cpu us/req, errors $errors"
done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A RPS P50 P99 CPU ANVIL_CPU
for t in $TARGETS; do
  RPS[$t]=$(printf '%.0f' "$(median "${L_RPS[$t]}")")
  P50[$t]=$(printf '%.0f' "$(median "${L_P50[$t]}")")
  P99[$t]=$(printf '%.0f' "$(median "${L_P99[$t]}")")
  CPU[$t]=$(printf '%.1f' "$(median "${L_CPU[$t]}")")
  ANVIL_CPU[$t]=$(printf '%.1f' "$(median "${L_ANVIL_CPU[$t]}")")
done
LOAD_END=$(load_avg)
COMPILERS_END=$(compilers)
cleanup  # anvil too, so that the next second measures only the others
BUSY_END=$(cpu_busy_percent)

# ---- report ---------------------------------------------------------------------------------------
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
added() {  # added latency vs direct, in ms; "—" without a direct run
  if [[ -n ${2:-} ]]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", (a - b) / 1000 }'; else echo "—"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

TABLE="| target | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/req | anvil CPU µs/req | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---|"
for t in $TARGETS; do
  flag=${ERR[$t]}
  [[ ${ERR[$t]} == 0 ]] || flag="**${ERR[$t]} (flagged: ${NOTE[$t]})**"
  proxy_cpu=${CPU[$t]}
  [[ $t == direct ]] && proxy_cpu="—"
  TABLE+="
| $t | ${RPS[$t]} | $(ms "${P50[$t]}") | $(ms "${P99[$t]}") | $(added "${P50[$t]}" "${P50[direct]:-}") | $(added "${P99[$t]}" "${P99[direct]:-}") | $proxy_cpu | ${ANVIL_CPU[$t]} | $flag |"
done

SUMMARY=""
if [[ -n ${RPS[gateway]:-} && -n ${RPS[nginx]:-} ]]; then
  rps_ratio=$(ratio "${RPS[gateway]}" "${RPS[nginx]}")
  SUMMARY+="- gateway/nginx throughput: **$rps_ratio** (target ≥ 1.00: $(awk -v r="$rps_ratio" 'BEGIN { print (r >= 1.0 ? "met" : "not met") }'))"
  if [[ -n ${P99[direct]:-} ]]; then
    gw_added=$(( ${P99[gateway]} - ${P99[direct]} ))
    ng_added=$(( ${P99[nginx]} - ${P99[direct]} ))
    SUMMARY+="
- added p99, gateway vs nginx: $(ms "$gw_added") ms vs $(ms "$ng_added") ms (target gateway ≤ nginx: $([[ $gw_added -le $ng_added ]] && echo met || echo "not met"); ratio $(ratio "$gw_added" "$ng_added"))"
  fi
  SUMMARY+="
- gateway/nginx p50: $(ratio "${P50[gateway]}" "${P50[nginx]}"), p99: $(ratio "${P99[gateway]}" "${P99[nginx]}"); proxy CPU per request: $(ratio "${CPU[gateway]}" "${CPU[nginx]}")"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[direct]:-} ]]; then
  SUMMARY+="${SUMMARY:+
}- gateway/direct anvil throughput: **$(ratio "${RPS[gateway]}" "${RPS[direct]}")** (issue 19's target ≥ 1.00)"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[gateway-unbatched]:-} ]]; then
  SUMMARY+="${SUMMARY:+
}- upstream batching: $(ratio "${RPS[gateway]}" "${RPS[gateway-unbatched]}")x the req/s of the same gateway with batching off; p50 $(ms "${P50[gateway]}") vs $(ms "${P50[gateway-unbatched]}") ms, p99 $(ms "${P99[gateway]}") vs $(ms "${P99[gateway-unbatched]}") ms"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[gateway-edge]:-} ]]; then
  edge_ratio=$(ratio "${RPS[gateway-edge]}" "${RPS[gateway]}")
  SUMMARY+="${SUMMARY:+
}- gateway-edge/gateway throughput: **$edge_ratio** (issue 17: auth + rate limiting cost ≤ 5% of req/s: $(awk -v r="$edge_ratio" 'BEGIN { print (r >= 0.95 ? "met" : "not met") }')); proxy CPU per request: ${CPU[gateway-edge]} vs ${CPU[gateway]} µs"
fi
if [[ -n ${RPS[gateway-edge]:-} && -n ${RPS[gateway-edge-shared]:-} ]]; then
  SUMMARY+="${SUMMARY:+
}- shared limits (one Redis round trip per request)/local buckets throughput: **$(ratio "${RPS[gateway-edge-shared]}" "${RPS[gateway-edge]}")**; p50 $(ms "${P50[gateway-edge-shared]}") vs $(ms "${P50[gateway-edge]}") ms, p99 $(ms "${P99[gateway-edge-shared]}") vs $(ms "${P99[gateway-edge]}") ms; proxy CPU per request: ${CPU[gateway-edge-shared]} vs ${CPU[gateway-edge]} µs"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[gateway-tls]:-} ]]; then
  SUMMARY+="${SUMMARY:+
}- client-facing TLS (keep-alive, relayed over a socket pair)/plain throughput: **$(ratio "${RPS[gateway-tls]}" "${RPS[gateway]}")**; p50 $(ms "${P50[gateway-tls]}") vs $(ms "${P50[gateway]}") ms; proxy CPU per request: ${CPU[gateway-tls]} vs ${CPU[gateway]} µs"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[gateway-ws]:-} ]]; then
  SUMMARY+="${SUMMARY:+
}- ws:// upstream (one WebSocket per loop, calls matched by id)/http:// upstream (keep-alive pool) throughput: **$(ratio "${RPS[gateway-ws]}" "${RPS[gateway]}")**; p50 $(ms "${P50[gateway-ws]}") vs $(ms "${P50[gateway]}") ms, p99 $(ms "${P99[gateway-ws]}") vs $(ms "${P99[gateway]}") ms; proxy CPU per request: ${CPU[gateway-ws]} vs ${CPU[gateway]} µs; anvil CPU per request: ${ANVIL_CPU[gateway-ws]} vs ${ANVIL_CPU[gateway]} µs"
fi
if [[ -n ${RPS[gateway]:-} && -n ${RPS[haproxy]:-} ]]; then
  SUMMARY+="
- gateway/haproxy throughput: $(ratio "${RPS[gateway]}" "${RPS[haproxy]}")"
fi
if [[ $ROUNDS -gt 1 ]]; then
  SUMMARY+="
- every round (req/s; p99 ms):"
  for t in $TARGETS; do
    SUMMARY+=" $t$(tr ' ' '\n' <<<"${L_RPS[$t]}" | grep . | tr '\n' ' ' | sed 's/ $//;s/^/ /');$(for v in ${L_P99[$t]}; do printf ' %s' "$(ms "$v")"; done) |"
  done
  SUMMARY=${SUMMARY% |}
fi
for t in $TARGETS; do
  [[ ${ERR[$t]} == 0 ]] || SUMMARY+="
- **$t had errors — its numbers are not comparable**: ${NOTE[$t]}"
done

PIN_DESC="none (the kernel schedules wrk, anvil and the proxy over all CPUs)"
[[ -z "$PIN_WRK$PIN_ANVIL$PIN_TARGET" ]] || PIN_DESC="wrk on CPU ${PIN_WRK:-any}, anvil on CPU ${PIN_ANVIL:-any}, proxy on CPU ${PIN_TARGET:-any}"
BUSY=""
if [[ $BUSY_START -gt 20 || $BUSY_END -gt 20 || ${COMPILERS_START:-0} != 0 || ${COMPILERS_END:-0} != 0 ]]; then
  BUSY=" **Other work ran on the machine (CPU ${BUSY_START}% / ${BUSY_END}% busy in the second before / after the run; compiler processes before/after: ${COMPILERS_START:-0}/${COMPILERS_END:-0}): the numbers are depressed and noisy.**"
fi
unset BENCH_AUTH  # set by the script itself for gateway-edge, not part of the command
CMD="$( (env | grep -E '^(BENCH_[A-Z_]+|ANVIL|WRK|NGINX|HAPROXY)=' || true) | sort | tr '\n' ' ')bash bench/run.sh ${1:-build/release/nodeops}"

SECTION="## $(date -u '+%Y-%m-%d %H:%M UTC')

Command: \`$CMD\` — wrk \`-t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/post.lua\` per target after a
$WARMUP warm-up, $ROUNDS round(s) with the targets interleaved (medians shown), POST \`$BODY\`; proxies with $WORKERS worker processes/threads; CPU pinning: $PIN_DESC.

Machine: $MACHINE_NPROC × $MACHINE_CPU, $MACHINE_MEM, $MACHINE_KERNEL. CPU busy in the second before / after the run:
${BUSY_START}% / ${BUSY_END}%; load average before/after: $LOAD_START / $LOAD_END.$BUSY
wrk, anvil and the proxy share these $MACHINE_NPROC CPUs, so a proxy's own CPU use is taken from anvil and wrk: on this
machine throughput measures how cheaply a proxy forwards, not how fast it could go alone.
${BENCH_NOTE:+Note: $BENCH_NOTE
}Versions: nginx $V_NGINX, HAProxy $V_HAPROXY, wrk $V_WRK, anvil $V_ANVIL, nodeops $V_NODEOPS.

$TABLE

$SUMMARY
"
echo
echo "$SECTION"

if [[ $RESULTS != - ]]; then
  if [[ ! -f $RESULTS ]]; then
    printf '# Benchmark results\n\nAppended by `make bench` (bench/run.sh); bench/README.md says what each number means.\n' >"$RESULTS"
  fi
  printf '\n%s' "$SECTION" >>"$RESULTS"
  log "appended to $RESULTS"
fi

# ---- micro benchmarks (opt-in: building them takes minutes on two cores) ---------------------------------
if [[ ${BENCH_MICRO:-0} == 1 ]]; then
  log "building bench/micro in build/bench"
  cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNODEOPS_BENCH=ON -DNODEOPS_TESTS=OFF >/dev/null
  cmake --build build/bench --target micro_bench
  micro=$(build/bench/bench/micro/micro_bench --benchmark_color=false ${BENCH_MICRO_ARGS:-} 2>&1)
  echo "$micro"
  if [[ $RESULTS != - ]]; then
    printf '\nMicro benchmarks (`BENCH_MICRO=1`, build/bench, RelWithDebInfo):\n\n```\n%s\n```\n' "$micro" >>"$RESULTS"
  fi
fi
