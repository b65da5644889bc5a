// Scenario 3: the gateway under load.
//  (1) POST /api/v1/roadmaps, autocannon -c 50 for ~10 s (each request: task + roadmap rows, publish in
//      the txn) with the gateway and the log-sink alone: admission, the queue absorbing a burst.
//  (2) The workflow and content workers start; the same POST load while they generate the roadmaps
//      queued by (1) on the same 2 cores.
//  (3) POST /api/v1/roadmaps as a front end loads it: an open loop at fixed rates (500, 1,000 and
//      2,000 requests/s, 20 s each; open-loop.mjs: request i leaves at t0 + i / rate, timed from
//      then) while the workers generate the roadmaps queued so far.
//  (4) GET /healthz while the two content workers are saturated (OFFLINE_LLM_LATENCY_MS=200, the
//      roadmaps queued by (1) and (2) keep them busy).
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, child, fmt, NODE, nodeOptions, resultOf, ROOT, SERVICES, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);

/** Runs a load generator (`scenarios/<script>.mjs`) in its own process; its RESULT line. */
async function load(script, args) {
  const c = child(NODE, [join(BENCH_DIR, 'scenarios', `${script}.mjs`), JSON.stringify(args)], { label: script });
  await c.waitFor(/^RESULT /, (args.duration + 60) * 1000);
  return resultOf(c);
}
const cannon = (args) => load('cannon', args);

/** Requests per second of the open-loop rows (BENCH_GATEWAY_RATES, comma-separated). */
const OPEN_LOOP_RATES = (process.env.BENCH_GATEWAY_RATES ?? '500,1000,2000').split(',').map(Number).filter((n) => n > 0);

/**
 * One open-loop row: `rate` requests/s for BENCH_GATEWAY_RATE_SECONDS (20), whatever the answers, as
 * a front end's users would send them: request i leaves at t0 + i / rate on a keep-alive pool of up
 * to BENCH_GATEWAY_RATE_CONNECTIONS (256) sockets and its latency counts from that scheduled time,
 * so a gateway (or a generator) that falls behind shows it in p99 (open-loop.mjs says why not
 * autocannon's -R, which sends each connection's quota per second back to back).
 */
async function openLoopRun(platform, body, auth, rate) {
  const seconds = Number(process.env.BENCH_GATEWAY_RATE_SECONDS ?? 20);
  const connections = Number(process.env.BENCH_GATEWAY_RATE_CONNECTIONS ?? 256);
  const before = await platform.query('SELECT count(*)::int AS tasks FROM tasks');
  const run = await load('open-loop', { url: `${platform.url}/api/v1/roadmaps`, method: 'POST', body, headers: auth, connections, duration: seconds, rate });
  const after = await platform.query(`SELECT count(*)::int AS tasks, count(*) FILTER (WHERE status = 'running')::int AS running FROM tasks`);
  const [items] = await platform.query(`SELECT count(*) FILTER (WHERE status = 'running')::int AS running FROM content_items`);
  run.connections = connections;
  run.tasksWritten = after[0].tasks - before[0].tasks;
  run.tasksRunning = after[0].running;
  run.itemsRunning = items.running;
  run.successPct = (run.status2xx / Math.max(1, run.total)) * 100;
  run.goalMet = rate === 1000 ? run.p99 < 10 && run.non2xx === 0 && run.errors === 0 && run.timeouts === 0 : undefined;
  return run;
}

export async function gateway() {
  const seconds = Number(process.env.BENCH_GATEWAY_SECONDS ?? 10);
  const platform = await Platform.start({
    // The workers are spawned after the admission run (1).
    replicas: { 'workflow-worker': 0, 'content-worker': 0 },
    env: { LOG_LEVEL: 'warn', OFFLINE_LLM_LATENCY_MS: process.env.BENCH_LLM_LATENCY_MS ?? '200' },
    // test/support/platform.ts sets DATABASE_POOL_SIZE=5; BENCH_GATEWAY_POOL overrides it for the gateway.
    // Every service runs with its Dockerfile's NODE_OPTIONS, as deployed (BENCH_AS_DEPLOYED=0: without).
    // BENCH_GATEWAY_PROFILE=1: the gateway runs with --cpu-prof (written at its graceful exit) into bench/results/profile-gateway/.
    serviceEnv: Object.fromEntries(SERVICES.map((s) => {
      const profile = s === 'gateway' && process.env.BENCH_GATEWAY_PROFILE === '1' ? `--cpu-prof --cpu-prof-dir=${join(BENCH_DIR, 'results', 'profile-gateway')}` : '';
      const opts = nodeOptions(s, profile);
      return [s, { ...(opts ? { NODE_OPTIONS: opts } : {}), ...(s === 'gateway' && process.env.BENCH_GATEWAY_POOL ? { DATABASE_POOL_SIZE: process.env.BENCH_GATEWAY_POOL } : {}) }];
    })),
  });
  try {
    const body = JSON.stringify({ goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } });
    // A bearer JWT of the platform's default owner (the platform's rate limit is set high for tests).
    const auth = await platform.authHeaders();
    // Warm-up (JIT, pools), not measured.
    await cannon({ url: `${platform.url}/api/v1/roadmaps`, method: 'POST', body, headers: auth, connections: 10, duration: 2 });
    const postRun = async () => {
      const before = await platform.query('SELECT count(*)::int AS tasks FROM tasks');
      const run = await cannon({ url: `${platform.url}/api/v1/roadmaps`, method: 'POST', body, headers: auth, connections: 50, duration: seconds });
      run.successPct = (run.status2xx / Math.max(1, run.total)) * 100;
      run.goalMet = run.p99 < 10 && run.non2xx === 0 && run.errors === 0 && run.timeouts === 0;
      const after = await platform.query('SELECT count(*)::int AS tasks FROM tasks');
      run.tasksWritten = after[0].tasks - before[0].tasks;
      return run;
    };
    const postAlone = await postRun();
    // The same open loop with the gateway alone (BENCH_GATEWAY_ALONE_RATES, default 1000; empty: none):
    // the gateway's own latency, before the workers take their share of the 2 cores.
    const openLoopAlone = [];
    for (const rate of (process.env.BENCH_GATEWAY_ALONE_RATES ?? '1000').split(',').map(Number).filter((n) => n > 0)) {
      openLoopAlone.push(await openLoopRun(platform, body, auth, rate));
    }
    const workers = [await platform.spawn('workflow-worker'), await platform.spawn('content-worker'), await platform.spawn('content-worker')];
    await Promise.all(workers.map((w) => platform.waitReady(w)));
    // BENCH_WORKERS_NICE=n: the workers run at a lower CPU priority (as their own pods' CPU shares
    // would give the gateway its cores); their PostgreSQL sessions and NATS are not reniced.
    if (process.env.BENCH_WORKERS_NICE) for (const w of workers) setPriority(w.child.pid, Number(process.env.BENCH_WORKERS_NICE));
    const post = await postRun();
    const openLoop = [];
    for (const rate of OPEN_LOOP_RATES) openLoop.push(await openLoopRun(platform, body, auth, rate));

    // Wait until the content workers are busy (fan-out of the queued roadmaps), then probe /healthz:
    // every LLM slot of both workers holds a claimed item (2 x WORKER_CONCURRENCY 16), or a backlog
    // of pending items. (Since items are read before their slot wait and claimed at it, fewer
    // roadmaps are fanned out at once behind the same content throughput, and a backlog of 200
    // pending items was no longer reached within 30 s in 2 runs.)
    let state;
    for (let i = 0; i < 150; i++) {
      [state] = await platform.query(`SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM content_items`);
      if (state.running >= 32 || (state.running >= 16 && state.pending > 200)) break;
      await sleep(200);
    }
    const health = await cannon({ url: `${platform.url}/healthz`, method: 'GET', connections: Number(process.env.BENCH_HEALTH_CONNECTIONS ?? 10), duration: seconds });
    const [after] = await platform.query(`SELECT count(*) FILTER (WHERE status = 'running')::int AS running, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM content_items`);
    health.running = state.running; health.pending = state.pending; health.runningAfter = after.running; health.pendingAfter = after.pending;
    health.successPct = (health.status2xx / Math.max(1, health.total)) * 100;
    health.goalMet = health.p99 < 10 && health.non2xx === 0 && health.errors === 0;
    return { postAlone, openLoopAlone, post, openLoop, health };
  } finally {
    await platform.stop();
  }
}
