-- Shared by the scenario scripts: status counts per thread, task slots for the write
-- scenarios, and one JSON line with the run's numbers for bench/wrk.py to read.
local common = {}
local threads = {}

-- Main state: number the threads so that each takes its own share of the data file.
function common.setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Thread state: count every response by its status code.
function common.count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function common.init_counts()
  statuses = {}
end

-- The lines of `path` that belong to this thread (line i goes to thread i mod n).
function common.my_lines(path, thread_count)
  local mine, i = {}, 0
  for line in io.lines(path) do
    if i % thread_count == thread_index then
      table.insert(mine, line)
    end
    i = i + 1
  end
  return mine
end

-- Task slots: each request takes a free task and the response gives it back with its new
-- version, so that no two connections ever write the same task and If-Match always holds.
-- A data line is "user token task_id version completed(0|1)".
function common.load_slots(path, thread_count)
  local slots = {free = {}, by_id = {}}
  for _, line in ipairs(common.my_lines(path, thread_count)) do
    local user, token, id, version, completed = line:match("^(%S+) (%S+) (%d+) (%d+) ([01])$")
    local slot = {user = user, token = token, id = id, version = tonumber(version),
                  completed = completed == "1"}
    slots.by_id[id] = slot
    table.insert(slots.free, slot)
  end
  return slots
end

function common.take(slots)
  local slot = table.remove(slots.free)
  if slot == nil then
    -- Only after error answers lost their slots: reuse any (it may well answer 412).
    local _, any = next(slots.by_id)
    slot = any
  end
  return slot
end

-- Give the slot back with the version and completion the 200 answer reports.
function common.give_back(slots, status, body)
  if status ~= 200 then
    return
  end
  local slot = slots.by_id[body:match('"id":(%d+)')]
  if slot ~= nil then
    slot.version = tonumber(body:match('"version":(%d+)'))
    slot.completed = body:match('"completed":(%a+)') == "true"
    table.insert(slots.free, slot)
  end
end

function common.headers(token, extra)
  local headers = {["Authorization"] = "Bearer " .. token}
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

-- POSTs of `body` to /api/{user}`suffix`, one per "user token" line of this thread's share of
-- the data file (args DATA_FILE THREADS), handed out in turn by the function returned.
function common.posts_by_user(args, suffix, body)
  local prepared, next_index = {}, 1
  for _, line in ipairs(common.my_lines(args[1], tonumber(args[2]))) do
    local user, token = line:match("^(%S+) (%S+)$")
    local headers = common.headers(token, {["Content-Type"] = "application/json"})
    table.insert(prepared, wrk.format("POST", "/api/" .. user .. suffix, headers, body))
  end
  return function()
    local req = prepared[next_index]
    next_index = next_index % #prepared + 1
    return req
  end
end

-- Main state, at the end: one line "BENCH_RESULT {json}".
function common.done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(totals) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ",")))
end

return common
