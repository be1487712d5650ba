-- wrk script for scripts/http-compare.sh: GET PATH with `Authorization: Bearer <token>`,
-- the tokens taken in turn from the first COUNT lines of TOKENS_FILE.
-- Args (after `--`): TOKENS_FILE COUNT THREADS PATH. Thread k sends tokens k, k+T, k+2T, ...
-- round and round (every thread the one token when COUNT is 1), so with COUNT tokens
-- each token comes back once every COUNT requests. The requests are formatted once, in
-- init(), so the per-request work of wrk is the same for every guard.

local threads = {}
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local file, ntokens, nthreads, path = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i >= ntokens then break end
    if ntokens < nthreads or i % nthreads == id then
      reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
    end
    i = i + 1
  end
  if i < ntokens then
    error(string.format("%s has %d tokens, fewer than the %d asked for", file, i, ntokens))
  end
  nreqs = #reqs
  nextreq = 0
end

function request()
  nextreq = nextreq % nreqs + 1
  return reqs[nextreq]
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
