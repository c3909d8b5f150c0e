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
local next_request

function init(args)
  common.init_counts()
  next_request = common.posts_by_user(args, "/tasks/batch", BODY)
end

function request()
  return next_request()
end

function response(status, headers, body)
  common.count(status)
end
