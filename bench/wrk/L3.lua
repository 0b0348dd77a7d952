-- L3: bench-large, keys.summary.
local common = dofile("bench/wrk/common.lua")
local body

function init(args)
  local large = common.lines(args[1] .. "/large.txt")
  body = common.call(large[1], "keys.summary", '{}')
end

function request() return body end
function response(status, headers, answer) common.counted(status, answer) end
