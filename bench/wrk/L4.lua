-- L4: bench-large, the lowest free ref of development D07.
local common = dofile("bench/wrk/common.lua")
local body

function init(args)
  local large = common.lines(args[1] .. "/large.txt")
  body = common.call(large[1], "keys.suggestKeyRef", '{"developmentId":"' .. large[2] .. '"}')
end

function request() return body end
function response(status, headers, answer) common.counted(status, answer) end
