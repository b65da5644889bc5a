// autocannon in its own process (so the load generator does not share an event loop with the
// orchestrator); prints RESULT with req/s, latency percentiles and status counts.
import autocannon from 'autocannon';

const a = JSON.parse(process.argv[2]);
const r = await autocannon({
  url: a.url, method: a.method, body: a.body, connections: a.connections, duration: a.duration, timeout: 10,
  // An open loop: requests leave at this rate whatever the answers (latency corrected for coordinated omission).
  ...(a.overallRate ? { overallRate: a.overallRate } : {}),
  headers: { ...(a.body ? { 'content-type': 'application/json' } : {}), ...(a.headers ?? {}) },
});
console.log(`RESULT ${JSON.stringify({
  connections: a.connections, seconds: a.duration, overallRate: a.overallRate, reqPerSec: r.requests.average, total: r.requests.total,
  p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max,
  status2xx: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
})}`);
