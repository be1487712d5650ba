-- wrk script for scripts/loadtest.sh: POST /v1/challenges {"human": H}, the humans of the
-- comma-separated argument (after `--`) in turn; "alice" without one.

local headers = { ["Content-Type"] = "application/json" }

function init(args)
  humans = {}
  for h in string.gmatch(args[1] or "alice", "[^,]+") do
    humans[#humans + 1] = '{"human":"' .. h .. '"}'
  end
  turn = 0
end

function request()
  turn = turn + 1
  return wrk.format("POST", "/v1/challenges", headers, humans[(turn % #humans) + 1])
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
