-- L5: page 40 of 50 (page 2 with --quick's 100 keys) in a random small organisation.
local common = dofile("bench/wrk/common.lua")
local tokens, params

function init(args)
  tokens = common.lines(args[1] .. "/small.txt")
  params = '{"page":' .. (args[2] or "40") .. ',"limit":50}'
  math.randomseed(1000 + id)
end

function request()
  return common.call(tokens[math.random(#tokens)], "keys.listKeys", params)
end

function response(status, headers, answer) common.counted(status, answer) end
