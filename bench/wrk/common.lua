-- Shared by the workload scripts (loaded with dofile from the workspace root):
-- reads the seed's files, builds JSON-RPC calls, counts errors, reports one line.
-- A call counts as an error when the HTTP status is not 200 or the JSON-RPC answer is an
-- error object (keyward answers JSON-RPC errors inside HTTP 200).

local common = {}
local threads = {}

-- The thread's number (0 …), set by setup() before init() runs in the thread.
id = 0
errors = 0
resyncs = 0

function common.lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  return lines
end

function common.call(token, method, params)
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, '{"jsonrpc":"2.0","id":1,"method":"' .. method .. '","params":' .. params .. '}')
end

-- Whether the answer is a success; counts it as an error otherwise.
function common.counted(status, body)
  if status == 200 and body:find('"result":', 1, true) and not body:find('"error":{', 1, true) then
    return true
  end
  errors = errors + 1
  if errors <= 3 then io.stderr:write("error answer (HTTP " .. status .. "): " .. body:sub(1, 300) .. "\n") end
  return false
end

-- A workload of one call against bench-large, the same every time: `params(large)` gets
-- large.txt's lines (1: the token, 2: development D07's id) and returns the params JSON.
function common.large_call(method, params)
  local body
  function init(args)
    local large = common.lines(args[1] .. "/large.txt")
    body = common.call(large[1], method, params(large))
  end
  function request() return body end
  function response(status, headers, answer) common.counted(status, answer) end
end

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local rpc_errors, resynced = 0, 0
  for _, thread in ipairs(threads) do
    rpc_errors = rpc_errors + (thread:get("errors") or 0)
    resynced = resynced + (thread:get("resyncs") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d rpc_errors=%d socket_errors=%d http_errors=%d resyncs=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), rpc_errors,
    e.connect + e.read + e.write + e.timeout, e.status, resynced))
end

return common
