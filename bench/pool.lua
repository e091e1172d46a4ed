-- wrk script: POST the requests of the pool file BENCH_POOL (lines "path<TAB>json"), each
-- with the marker ~V~ replaced by a number unique to the request (BENCH_START + a counter per
-- thread, threads interleaved), so no two requests carry the same resources (but the two of a
-- group, below). Prints the same
-- BENCH_RESULT line as post.lua.
local pool = {}
local start = tonumber(os.getenv("BENCH_START") or "0")
local threads_seen = 0
local counter = 0
local thread_index = 0
local thread_count = 1

for line in io.lines(os.getenv("BENCH_POOL")) do
  local tab = line:find("\t", 1, true)
  if tab then
    pool[#pool + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
end
assert(#pool > 0, "empty BENCH_POOL")

function setup(thread)
  thread:set("thread_index", threads_seen)
  threads_seen = threads_seen + 1
end

function init(args)
  thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
end

-- BENCH_GROUP=2 (the hook sequence): lines go by groups of two (order-select, then order-sign of
-- the same patient); a thread sends a group's lines in turn under one number, as the EHR calls
-- the two hooks of one order with the same resources.
local group = tonumber(os.getenv("BENCH_GROUP") or "1")

function request()
  local step = counter % group
  local n = start + math.floor(counter / group) * thread_count + thread_index
  counter = counter + 1
  local groups = math.floor(#pool / group)
  local entry = pool[(n % groups) * group + step + 1]
  local body = entry[2]:gsub("~V~", string.format("%06x", n))
  return wrk.format("POST", entry[1], { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local buckets = {}
  local i = 1
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
