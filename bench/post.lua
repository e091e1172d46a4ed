-- wrk script: POST the JSON body named by BENCH_BODY; print the latency histogram as JSON.
local body_path = os.getenv("BENCH_BODY")
local file = assert(io.open(body_path, "rb"), "cannot open BENCH_BODY")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

-- BENCH_ONE_REQUEST=1: stop after the first response (the first request after start-up, timed
-- exactly as the steady-state runs time theirs). Defined only then: a response() callback makes
-- wrk parse every response.
if os.getenv("BENCH_ONE_REQUEST") == "1" then
  function response(status, headers, body)
    wrk.thread:stop()
  end
end

-- One line the runner parses: totals, errors and the exact histogram (microseconds -> count).
function done(summary, latency, requests)
  local buckets = {}
  local i = 1
  -- latency(i) is the i-th distinct value (1-based) and its count; past the last one wrk
  -- returns value 0 (with a non-zero count), so stop there. The cap keeps the loop bounded.
  while i <= 1000000 do
    local value, count = latency(i)
    if value == nil or value == 0 or count == 0 then
      break
    end
    buckets[#buckets + 1] = string.format("[%d,%d]", value, count)
    i = i + 1
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,'
      .. '"write":%d,"status":%d,"timeout":%d},"p50":%d,"p99":%d,"histogram":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(buckets, ",")))
end
