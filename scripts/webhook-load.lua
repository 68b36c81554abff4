-- Load for POST /twilio/voice: Twilio-shaped call webhooks, each with a fresh CallSid, so every request
-- takes the full path (business lookup, customer upsert, call row committed, token, TwiML).
-- For a server started with --allow-unsigned (no signatures) and a business on +97231234567:
--   wrk -t2 -c16 -d20s --latency -s scripts/webhook-load.lua http://127.0.0.1:8080
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("CAload%02d%06d", threads, os.time() % 1000000))
end

local counter = 0

function request()
  counter = counter + 1
  local body = "CallSid=" .. prefix .. string.format("%010d", counter)
    .. "&AccountSid=ACload&From=%2B972501234567&To=%2B97231234567&CallStatus=ringing&Direction=inbound"
  return wrk.format("POST", "/twilio/voice", { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
