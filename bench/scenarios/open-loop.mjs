// A true open loop in its own process: request i leaves at t0 + i / rate whatever the answers, and
// its latency is measured from that *scheduled* time (as wrk2 does), so a generator or a server that
// falls behind counts against latency instead of slowing the load down.
//
// Why not autocannon's -R / overallRate: it gives each connection a quota per second, reset by a
// 1 s interval, and a connection sends its quota back to back (each request after the previous
// answer). At 1,000 req/s over 100 connections every second starts with 100 concurrent requests
// and ends idle: a closed loop at -c 100 in bursts, not a front end's steady arrivals. Its
// coordinated-omission correction also assumes one request per ceil(1 / per-connection rate) =
// 1 ms, so a 20 ms answer is recorded with 19 synthetic ones.
//
// Prints `RESULT {...}` with the rate actually sent, latency percentiles (from the scheduled time,
// and the service time from the actual send), status counts, errors and timeouts.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const a = JSON.parse(process.argv[2]);
const url = new URL(a.url);
const rate = a.rate;
const total = Math.round(rate * a.duration);
const timeoutMs = (a.timeout ?? 10) * 1000;
// Enough sockets that a late answer never delays a later request's departure (a request waiting for
// a socket is still timed from its schedule).
const agent = new http.Agent({ keepAlive: true, maxSockets: a.connections ?? 256 });
const body = a.body ? Buffer.from(a.body) : undefined;
const headers = { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...(a.headers ?? {}) };

const latency = []; // ms from the scheduled time
const service = []; // ms from the actual send
let status2xx = 0;
let non2xx = 0;
let errors = 0;
let timeouts = 0;
let lateStarts = 0; // requests that left more than 1 ms after their scheduled time
const statuses = {};

function send(scheduled) {
  const sent = performance.now();
  if (sent - scheduled > 1) lateStarts++;
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: a.method ?? 'GET', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const done = performance.now();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          status2xx++;
          latency.push(done - scheduled);
          service.push(done - sent);
        } else non2xx++;
        resolve();
      });
    });
    let timedOut = false;
    req.setTimeout(timeoutMs, () => {
      timedOut = true;
      timeouts++;
      req.destroy(new Error('timeout'));
    });
    req.on('error', () => {
      if (!timedOut) errors++;
      resolve();
    });
    req.end(body);
  });
}

const inFlight = [];
const t0 = performance.now() + 50;
let next = 0;
await new Promise((done) => {
  const tick = () => {
    const now = performance.now();
    while (next < total && t0 + (next * 1000) / rate <= now) inFlight.push(send(t0 + (next++ * 1000) / rate));
    if (next >= total) return done();
    // setImmediate would spin a core; a 1 ms timer is late by up to a tick, which the schedule absorbs
    // (every request due by then leaves in this turn, timed from its own scheduled time).
    setTimeout(tick, Math.max(0, Math.min(1, t0 + (next * 1000) / rate - now)));
  };
  tick();
});
const sendSeconds = (performance.now() - t0) / 1000;
await Promise.all(inFlight);
agent.destroy();

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const sorted = Float64Array.from(xs).sort();
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 100) / 100;
};
console.log(`RESULT ${JSON.stringify({
  openLoop: true, rate, seconds: a.duration, total, reqPerSec: Math.round(total / sendSeconds),
  p50: pct(latency, 0.5), p90: pct(latency, 0.9), p99: pct(latency, 0.99), p999: pct(latency, 0.999), max: pct(latency, 1),
  serviceP50: pct(service, 0.5), serviceP99: pct(service, 0.99), lateStarts,
  status2xx, non2xx, errors, timeouts, statuses,
})}`);
process.exit(0);
