-- POST /api/v1/payments with a unique Idempotency-Key and external_id per request (pay.lua,
-- generalised): KEYS = comma-separated bearer keys, used in turn (one per tenant); PREFIX
-- makes external ids unique across runs.
counter = 0  -- globals: wrk keeps one Lua state per thread
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
function init(args)
  math.randomseed(os.time() * 1000 + tid)
  keys = {}
  for key in string.gmatch(os.getenv("KEYS") or os.getenv("KEY"), "[^,]+") do table.insert(keys, key) end
  prefix = os.getenv("PREFIX") or "k"
  msisdn = os.getenv("MSISDN") or "260961234567"
end
request = function()
  counter = counter + 1
  local k = string.format("%s-%d-%d-%d-%d", prefix, tid, counter, os.time(), math.random(1, 1000000000))
  local body = string.format('{"amount":"15.00","currency":"ZMW","msisdn":"%s","external_id":"%s"}', msisdn, k)
  return wrk.format("POST", nil, {["Content-Type"]="application/json",
    ["Authorization"]="Bearer " .. keys[(counter + tid) % #keys + 1], ["Idempotency-Key"]=k}, body)
end
