-- POST a new task, cycling through users: args are DATA_FILE THREADS, a data line "user token".
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local BODY = '{"title":"Load test task","description":"Created by the benchmark.",' ..
             '"priority":"medium","tags":["bench","load"]}'
local next_request

function init(args)
  common.init_counts()
  next_request = common.posts_by_user(args, "/tasks", BODY)
end

function request()
  return next_request()
end

function response(status, headers, body)
  common.count(status)
end
