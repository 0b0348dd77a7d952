-- W1: issue, return, return to stock, then the next key. Run with as many threads as
-- connections (-t16 -c16): each thread has one connection and its own slice of the
-- seed's in-stock keys, so no two connections ever write the same key.
--
-- wrk calls request() for the next call only after response() has seen the answer to
-- this one (one connection per thread, no pipelining), so the step advances here, in
-- response(), from the status the answer reports: the key's new status, or on
-- INVALID_TRANSITION its current one. A run that stopped mid-cycle (the warm-up, an
-- interrupted run) leaves a key issued or returned; the first call on such a key is
-- refused once, counted as a resync, not an error, and the cycle goes on from there.
local common = dofile("bench/wrk/common.lua")
local keys, key, status, first = {}, 1, {}, {}

function init(args)
  local all = common.lines(args[1] .. "/w1.txt")
  local connections = tonumber(args[2])
  local per = math.floor(#all / connections)
  for i = id * per + 1, (id + 1) * per do
    local token, key_id = all[i]:match("^(%S+)%s+(%S+)$")
    keys[#keys + 1] = { token = token, id = key_id }
    status[#keys] = "in_stock"
    first[#keys] = true
  end
end

local next_call = {
  in_stock = { "keys.issueKey", ',"issuedTo":"Bench Runner"' },
  issued = { "keys.returnKey", "" },
  returned = { "keys.returnToStock", "" },
}

function request()
  local k = keys[key]
  local call = next_call[status[key]]
  return common.call(k.token, call[1], '{"id":"' .. k.id .. '"' .. call[2] .. '}')
end

function response(code, headers, answer)
  local now = answer:match('"currentStatus":"([%w_]+)"')
  if now and first[key] and next_call[now] then
    resyncs = resyncs + 1
  else
    common.counted(code, answer)
    now = answer:match('"status":"([%w_]+)"')
  end
  first[key] = false
  if now and next_call[now] then status[key] = now end
  if status[key] == "in_stock" then key = key % #keys + 1 end
end
