-- wrk script: POST a unique, valid user per request to the sandbox's endpoint.
-- Every request has its own externalUserId, email and phone, so each one is a
-- real creation (201), as in an import. Usage:
--   wrk -t2 -c64 -d5s -s benches/post_users.lua http://127.0.0.1:PORT
-- setup() runs in the main Lua state; thread:set() gives each thread's own state
-- a distinct prefix, so ids never collide across threads.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("prefix", "wrk" .. counter .. "-" .. os.time())
  thread:set("tid", counter)
end

function init(args)
  n = 0
  wrk.method = "POST"
  wrk.path = "/v1/user/balances/crypto-and-fiat"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["x-api-key"] = os.getenv("P100_API_KEY") or "sandbox-demo-key"
end

function request()
  n = n + 1
  local id = prefix .. "-" .. n
  -- 49 + thread + 9 digits: never one of `p100-onboard sample`'s phone numbers.
  local phone = string.format("49%d%09d", tid, n)
  local body = '{"externalUserId":"' .. id .. '","email":"' .. id .. '@example.com",'
    .. '"phone":"' .. phone .. '","firstName":"Ada","lastName":"Lovelace",'
    .. '"street":"Prinsengracht","number":"34","city":"Amsterdam","postCode":"1016 GV",'
    .. '"country":"NL","citizenship":"NL","nationality":"NL","birthCountry":"NL",'
    .. '"birthDate":"1969-10-17","hasAcceptedP100Tc":true}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %d non-2xx/3xx, %d socket errors\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
