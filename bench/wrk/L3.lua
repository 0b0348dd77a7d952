-- L3: bench-large, keys.summary.
local common = dofile("bench/wrk/common.lua")
common.large_call("keys.summary", function() return '{}' end)
