-- One fixed request, sent over and over: args are METHOD PATH TOKEN.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local prepared

function init(args)
  common.init_counts()
  prepared = wrk.format(args[1], args[2], common.headers(args[3]))
end

function request()
  return prepared
end

function response(status, headers, body)
  common.count(status)
end
