-- PATCH …/complete, flipping each task between completed and pending so that every request
-- is a real write. Args are DATA_FILE THREADS.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local slots

function init(args)
  common.init_counts()
  slots = common.load_slots(args[1], tonumber(args[2]))
end

function request()
  local slot = common.take(slots)
  local body = slot.completed and '{"completed":false}' or '{"completed":true}'
  local headers = common.headers(slot.token, {["Content-Type"] = "application/json"})
  return wrk.format("PATCH", "/api/" .. slot.user .. "/tasks/" .. slot.id .. "/complete",
                    headers, body)
end

function response(status, headers, body)
  common.count(status)
  common.give_back(slots, status, body)
end
