-- L4: bench-large, the lowest free ref of development D07.
local common = dofile("bench/wrk/common.lua")
common.large_call("keys.suggestKeyRef", function(large)
  return '{"developmentId":"' .. large[2] .. '"}'
end)
