-- The same POST /api/v1/payments again: keys replay-1 .. replay-COUNT, made beforehand with
-- exactly these bodies, are answered from their stored responses (Idempotent-Replayed).
counter = 0
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
function init(args) total = tonumber(os.getenv("COUNT")) end
request = function()
  counter = counter + 1
  local i = (counter * 2 + tid) % total + 1
  local k = string.format("replay-%d", i)
  local body = string.format('{"amount":"15.00","currency":"ZMW","msisdn":"260961234567","external_id":"%s"}', k)
  return wrk.format("POST", nil, {["Content-Type"]="application/json",
    ["Authorization"]="Bearer " .. os.getenv("KEY"), ["Idempotency-Key"]=k}, body)
end
