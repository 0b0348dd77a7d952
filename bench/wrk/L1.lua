-- L1: bench-large, development D07, issued keys, page 1 of 50.
local common = dofile("bench/wrk/common.lua")
local body

function init(args)
  local large = common.lines(args[1] .. "/large.txt")
  body = common.call(large[1], "keys.listKeys",
    '{"developmentId":"' .. large[2] .. '","status":"issued","page":1,"limit":50}')
end

function request() return body end
function response(status, headers, answer) common.counted(status, answer) end
