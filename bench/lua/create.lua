-- POST a new task, cycling through users: args are DATA_FILE THREADS, a data line "user token".
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local BODY = '{"title":"Load test task","description":"Created by the benchmark.",' ..
             '"priority":"medium","tags":["bench","load"]}'
local prepared, next_index = {}, 1

function init(args)
  common.init_counts()
  for _, line in ipairs(common.my_lines(args[1], tonumber(args[2]))) do
    local user, token = line:match("^(%S+) (%S+)$")
    local headers = common.headers(token, {["Content-Type"] = "application/json"})
    table.insert(prepared, wrk.format("POST", "/api/" .. user .. "/tasks", headers, BODY))
  end
end

function request()
  local req = prepared[next_index]
  next_index = next_index % #prepared + 1
  return req
end

function response(status, headers, body)
  common.count(status)
end
