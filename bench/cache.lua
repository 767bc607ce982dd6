-- wrk script for bench/cache.py: POST / with bodies read from $BENCH_BODIES (one JSON-RPC call per
-- line), taken in turn by each connection so every target sees the same mix in the same order.
-- done() prints the machine-readable line bench/cache.py reads (latencies in microseconds).
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  i = math.random(#bodies)  -- threads start at different places of the mix
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/", headers, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
