-- One fixed conditional GET, sent over and over: args are PATH TOKEN ETAG (If-None-Match).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup, done = common.setup, common.done
local prepared

function init(args)
  common.init_counts()
  prepared = wrk.format("GET", args[1], common.headers(args[2], {["If-None-Match"] = args[3]}))
end

function request()
  return prepared
end

function response(status, headers, body)
  common.count(status)
end
