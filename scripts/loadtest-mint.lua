-- wrk script for scripts/loadtest.sh: POST /v1/tokens, each pre-made body exactly once.
-- Args (after `--`): BODIES_FILE THREADS. Thread k sends lines k, k+T, k+2T, ...
-- A thread that runs out of bodies stops and the run is reported as EXHAUSTED (its
-- requests/s would be wrong: wrk divides by the full duration).

local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      bodies[#bodies + 1] = line
    end
    i = i + 1
  end
  nbodies = #bodies
  sent = 0
  exhausted = 0
  failed = 0
  first_failure = ""
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  sent = sent + 1
  local body = bodies[sent]
  if body == nil then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/v1/tokens", headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
    if first_failure == "" then
      first_failure = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local exhausted_threads, unused = 0, 0
  for _, t in ipairs(threads) do
    exhausted_threads = exhausted_threads + t:get("exhausted")
    unused = unused + math.max(0, t:get("nbodies") - t:get("sent"))
    if t:get("first_failure") ~= "" then
      io.write("FAILURE (first of this thread): " .. t:get("first_failure") .. "\n")
    end
  end
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d sockerr=%d exhausted=%d unused_bodies=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    exhausted_threads, unused))
end
