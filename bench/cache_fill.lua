-- wrk script for bench/cache.py's fill phase: every request a new eth_getBalance call at a final
-- block (another address each time), so each one adds an entry until the cache is at max_bytes.
local n = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  n = math.random(1, 2^20) * 2^28  -- threads start far apart (and below 2^53: exact in a double)
end

function request()
  n = n + 1
  local body = string.format(
    '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x%040x","0x1"]}', n)
  return wrk.format("POST", "/", headers, body)
end
