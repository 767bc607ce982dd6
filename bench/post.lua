-- wrk script: every request is POST / with one call: $BENCH_BODY (bench/run.sh sets it), else eth_blockNumber.
-- done() prints one machine-readable line that bench/run.sh reads (latencies in microseconds, exact,
-- instead of the rounded "1.23ms" of --latency's table, which run.sh only falls back to).
wrk.method = "POST"
wrk.path = "/"
wrk.body = os.getenv("BENCH_BODY") or '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}'
wrk.headers["Content-Type"] = "application/json"
-- The gateway-edge target requires an API key (bench/run.sh sets BENCH_AUTH for it).
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d non2xx=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
