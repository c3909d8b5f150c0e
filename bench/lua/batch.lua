-- POST a batch of new tasks (SPEC §8), cycling through users: args are DATA_FILE THREADS, a
-- data line "user token". Each batch creates BATCH_SIZE tasks in one transaction.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local BATCH_SIZE = 10
local OPERATION = '{"op":"create","data":{"title":"Load test task",' ..
                  '"description":"Created by the benchmark in a batch.",' ..
                  '"priority":"medium","tags":["bench","batch"]}}'
local operations = {}
for i = 1, BATCH_SIZE do
  operations[i] = OPERATION
end
local BODY = '{"operations":[' .. table.concat(operations, ",") .. ']}'
local prepared, next_index = {}, 1

function init(args)
  common.init_counts()
  for _, line in ipairs(common.my_lines(args[1], tonumber(args[2]))) do
    local user, token = line:match("^(%S+) (%S+)$")
    local headers = common.headers(token, {["Content-Type"] = "application/json"})
    table.insert(prepared, wrk.format("POST", "/api/" .. user .. "/tasks/batch", headers, BODY))
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
