-- L1: bench-large, development D07, issued keys, page 1 of 50.
local common = dofile("bench/wrk/common.lua")
common.large_call("keys.listKeys", function(large)
  return '{"developmentId":"' .. large[2] .. '","status":"issued","page":1,"limit":50}'
end)
