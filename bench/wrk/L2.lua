-- L2: bench-large, substring search "smi", page 1 of 50.
local common = dofile("bench/wrk/common.lua")
common.large_call("keys.listKeys", function()
  return '{"search":"smi","page":1,"limit":50}'
end)
