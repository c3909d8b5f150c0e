-- PUT each task with If-Match set to the version its last answer reported; every write
-- changes the title, so every one is a real update. Args are DATA_FILE THREADS.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local slots

function init(args)
  common.init_counts()
  slots = common.load_slots(args[1], tonumber(args[2]))
end

function request()
  local slot = common.take(slots)
  local body = '{"title":"Updated by the benchmark, v' .. (slot.version + 1) ..
               '","priority":"high","tags":["bench"]}'
  local headers = common.headers(slot.token, {
    ["Content-Type"] = "application/json",
    ["If-Match"] = '"' .. slot.version .. '"',
  })
  return wrk.format("PUT", "/api/" .. slot.user .. "/tasks/" .. slot.id, headers, body)
end

function response(status, headers, body)
  common.count(status)
  common.give_back(slots, status, body)
end
