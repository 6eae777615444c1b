-- wrk script for infra/bench/webhooks.py: replays pre-signed webhook requests, one connection
-- per thread (run wrk with -t N -c N), so that each thread's requests and answers alternate and
-- the driver knows exactly which events were answered, and how.
--
-- Environment:
--   HERALD_WRK_REQUESTS  file of requests, one per line: "<thread>\t<path>\t<webhook-id>\t
--                        <webhook-timestamp>\t<webhook-signature>\t<body>" (the body is JSON on one
--                        line). Without it, every request is `GET /health` (the HTTP ceiling).
--   HERALD_WRK_THREADS   how many threads wrk runs (-t), to give each its own lines.
--
-- done() prints one line "HERALD_WRK {json}" with the latency percentiles (µs), wrk's error
-- counts and, per thread, how many requests it sent, how many were answered and how many of
-- those answers were not 200.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  sent, answered, not_ok = 0, 0, 0
  -- wrk calls the first thread's request() once before the run, to check the request it makes
  -- (wrk.c, script_verify_request): that call sends nothing and must not be counted.
  verifying = (tid == 0)
  reqs = {}
  local file = os.getenv("HERALD_WRK_REQUESTS")
  if file == nil or file == "" then
    reqs[1] = wrk.format("GET", "/health")
    return
  end
  local mine = tostring(tid)
  for line in io.lines(file) do
    local t, path, id, ts, sig, body = line:match("^(%d+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    if t == mine then
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }, body)
    end
  end
  if #reqs == 0 then
    error("thread " .. mine .. " has no request in " .. file)
  end
end

function request()
  if verifying then
    verifying = false
    return reqs[1]
  end
  -- Past the end of its list a thread starts again: the same deliveries again, which Herald
  -- must take as redeliveries (the driver sizes the list so that this does not happen).
  local r = reqs[(sent % #reqs) + 1]
  sent = sent + 1
  return r
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local per = {}
  for _, t in ipairs(threads) do
    per[#per + 1] = string.format('{"tid":%d,"sent":%d,"answered":%d,"not_ok":%d}',
      t:get("tid"), t:get("sent"), t:get("answered"), t:get("not_ok"))
  end
  local e = summary.errors
  io.write(string.format(
    'HERALD_WRK {"duration_us":%d,"requests":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},"threads":[%s]}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, table.concat(per, ",")))
end
