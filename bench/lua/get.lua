-- GET requests: each line of PATHS_FILE in turn (e.g. /api/v1/payments/pay_…), bearer KEY.
counter = 0
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
function init(args)
  paths = {}
  for line in io.lines(os.getenv("PATHS_FILE")) do table.insert(paths, line) end
end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter * 2 + tid) % #paths + 1],
    {["Authorization"]="Bearer " .. os.getenv("KEY")})
end
