// Scenario 1 (dispatch) and 2 (latency): no-op jobs, a producer process and a worker process.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { consumerConfig, deprovision, Messaging, provision } from '@roadmap/messaging';
import { Redis } from 'ioredis';
import { BENCH_DIR, child, fmt, nodeOptions, median, NATS_URL, NODE, resultOf, sleep, uid } from '../lib.mjs';

const PY = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const D = join(BENCH_DIR, 'dispatch');
const N = Number(process.env.BENCH_DISPATCH_N ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

/** A throw-away namespace with the platform's streams, plus bench consumers on EVENTS. */
async function benchNamespace() {
  const ns = uid('bench');
  const messaging = await Messaging.connect({ servers: NATS_URL, namespace: ns, name: 'bench-setup' });
  await provision(messaging);
  return {
    ns, messaging,
    async consumer(name) {
      const decl = { stream: 'EVENTS', durable: `bench-${name}`, description: 'benchmark', filterSubject: `events.bench.${name}`, ackWaitMs: 30_000, maxDeliver: 5, maxAckPending: 50_000 };
      await messaging.jsm.consumers.add(messaging.streamName('EVENTS'), consumerConfig(messaging, decl));
      return { decl, stream: messaging.streamName('EVENTS'), subject: messaging.subject(decl.filterSubject) };
    },
    async close() { await deprovision(messaging).catch(() => {}); await messaging.close(); },
  };
}

/** Starts the worker, waits for READY, runs the producer, returns jobs/s from the producer's first send to the worker's N-th job. */
async function runPair(label, workerArgs, producerArgs, env, { workerCmd = NODE, producerCmd = NODE, timeoutMs = 180_000, extraEnv = {} } = {}) {
  const w = child(workerCmd, workerArgs, { env: { ...env, ...extraEnv.worker }, label: `${label}-worker` });
  try {
    await w.waitFor(/^READY/, 60_000);
    const p = child(producerCmd, producerArgs, { env: { ...env, ...extraEnv.producer }, label: `${label}-producer` });
    await p.waitFor(/^RESULT /, timeoutMs);
    await w.waitFor(/^RESULT /, timeoutMs);
    const pr = resultOf(p), wr = resultOf(w);
    if (wr.error) throw new Error(`${label}: ${wr.error} after ${wr.handled}`);
    const ms = wr.doneAt - pr.startAt;
    await Promise.race([w.exited, sleep(15_000)]); // let it exit by itself (--cpu-prof writes at exit)
    return { jobsPerSec: ((wr.handled ?? N) / ms) * 1000, ms, publishMs: pr.endAt - pr.startAt, latency: wr.latency && { ...wr.latency, publishAck: pr.publishAck, producer: pr.producer, failed: pr.failed } };
  } finally {
    await w.stop();
  }
}

async function platformRun(bn, i, extra = {}) {
  const c = await bn.consumer(`nest${i}${extra.tag ?? ''}`);
  const env = { BENCH_NS: bn.ns, BENCH_DURABLE: c.decl.durable, BENCH_SUBJECT: c.decl.filterSubject, BENCH_N: String(extra.n ?? N), BENCH_CONCURRENCY: String(CONCURRENCY), ...extra.env };
  return runPair('platform', [...(extra.nodeArgs ?? []), join(D, 'platform-worker.mjs')], [join(D, 'platform-producer.mjs')], env);
}
async function rawRun(bn, i, extra = {}) {
  const c = await bn.consumer(`raw${i}${extra.tag ?? ''}`);
  const env = { BENCH_STREAM: c.stream, BENCH_DURABLE: c.decl.durable, BENCH_SUBJECT: c.subject, BENCH_N: String(extra.n ?? N), ...extra.env };
  return runPair('raw', [join(D, 'raw-worker.mjs')], [join(D, 'raw-producer.mjs')], env);
}
async function bullmqRun(i) {
  const queue = uid('benchq');
  const env = { BENCH_QUEUE: queue, BENCH_N: String(N), BENCH_CONCURRENCY: '50' };
  try {
    return await runPair('bullmq', [join(D, 'bullmq-worker.mjs')], [join(D, 'bullmq-producer.mjs')], env);
  } finally {
    const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await r.connect();
    const keys = await r.keys(`bull:${queue}:*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  }
}

export function ensureCelery() {
  try { execFileSync(PY, ['-c', 'import celery, redis']); return true; } catch {}
  console.error('[bench] installing python3-celery python3-redis from Debian (apt-get)...');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 180_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', 'python3-celery', 'python3-redis'], { stdio: 'ignore', timeout: 300_000 });
    execFileSync(PY, ['-c', 'import celery, redis']);
    return true;
  } catch (e) {
    console.error(`[bench] Celery unavailable: ${e.message}`);
    return false;
  }
}

async function celeryRun(i) {
  const queue = uid('benchc');
  const env = { BENCH_QUEUE: queue, BENCH_N: String(N), PYTHONPATH: D };
  const r = new Redis({ host: '127.0.0.1', port: 6379 });
  const w = child(PY, ['-m', 'celery', '-A', 'celery_bench', 'worker', '--pool=prefork', '-c', '2', '-Q', queue, '--without-gossip', '--without-mingle', '--without-heartbeat', '-l', 'INFO'], { env, cwd: D, label: 'celery-worker' });
  try {
    await w.waitFor(/ready\./, 60_000);
    const p = child(PY, ['celery_bench.py', 'produce'], { env, cwd: D, label: 'celery-producer' });
    await p.waitFor(/^RESULT /, 120_000);
    const pr = resultOf(p);
    const deadline = Date.now() + 180_000;
    let done;
    while (!(done = await r.get(`${queue}:done`)) && Date.now() < deadline) await sleep(100);
    if (!done) throw new Error(`celery: only ${await r.get(`${queue}:count`)} of ${N} done`);
    const ms = Number(done) - pr.startAt;
    return { jobsPerSec: (N / ms) * 1000, ms, publishMs: pr.endAt - pr.startAt };
  } finally {
    await w.stop('SIGTERM', 10_000);
    const keys = await r.keys(`${queue}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  }
}

export async function dispatch() {
  const bn = await benchNamespace();
  const runs = { platform: [], raw: [], bullmq: [], celery: [] };
  const celery = ensureCelery();
  try {
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so drift on the shared machine hits every variant alike.
      runs.raw.push(await rawRun(bn, i));
      runs.platform.push(await platformRun(bn, i));
      runs.bullmq.push(await bullmqRun(i));
      if (celery && i < Number(process.env.BENCH_CELERY_RUNS ?? RUNS)) runs.celery.push(await celeryRun(i));
      console.error(`[dispatch] run ${i + 1}: raw ${fmt(runs.raw.at(-1).jobsPerSec)}  platform ${fmt(runs.platform.at(-1).jobsPerSec)}  bullmq ${fmt(runs.bullmq.at(-1).jobsPerSec)}  celery ${fmt(runs.celery[i]?.jobsPerSec)}`);
    }
  } finally {
    await bn.close();
  }
  const med = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((r) => r.jobsPerSec))]));
  const ratios = runs.platform.map((p, i) => p.jobsPerSec / runs.raw[i].jobsPerSec);
  return {
    n: N, runs: RUNS, concurrency: CONCURRENCY, jobsPerSec: med, raw: runs,
    platformToRaw: median(ratios), platformToBullmq: med.platform / med.bullmq,
    goal: { platformToRawAtLeast: 0.7, aheadOfBullmq: true, met: median(ratios) >= 0.7 && med.platform > med.bullmq },
  };
}

/**
 * Latency variants, run interleaved at the same rate: the platform's layer, and the raw JetStream
 * loop (the limit: what NATS, the client and this machine give without the platform). More with
 * BENCH_LATENCY_VARIANTS, e.g. `platform,raw,platform-prefetch1` (platform with a fixed prefetch of 1).
 */
const LATENCY_VARIANTS = {
  platform: (bn, i, o) => platformRun(bn, i, { ...o, tag: `lat${o.tag}` }),
  raw: (bn, i, o) => rawRun(bn, i, { ...o, tag: `lat${o.tag}` }),
  'raw-prefetch128': (bn, i, o) => rawRun(bn, i, { ...o, tag: `latr128${o.tag}`, env: { ...o.env, BENCH_PREFETCH: '128' } }),
  'platform-prefetch1': (bn, i, o) => platformRun(bn, i, { ...o, tag: `latp1${o.tag}`, env: { ...o.env, BENCH_PREFETCH: '1' } }),
  'platform-prefetch128': (bn, i, o) => platformRun(bn, i, { ...o, tag: `latp128${o.tag}`, env: { ...o.env, BENCH_PREFETCH: '128' } }),
};

const ms2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
function describe(l) {
  return `p50 ${ms2(l.p50)} p99 ${ms2(l.p99)} max ${ms2(l.max)} ms${l.firstSecond ? ` (first second, cold: p99 ${ms2(l.firstSecond.p99)})` : ''} | producer lag p99 ${ms2(l.producerLag?.p99)} · transit p99 ${ms2(l.transit?.p99)} · publish ack p99 ${ms2(l.publishAck?.p99)} | >20 ms: ${l.slowOver20ms} msgs in ${l.slowWindows100ms} windows of 100 ms | worker loop delay max ${l.workerLoopDelay?.max} ms, GC max ${l.workerGc?.maxMs} ms | producer loop delay max ${l.producer?.loopDelay?.max} ms, GC max ${l.producer?.gc?.maxMs} ms | idle runner loop delay p99 ${l.idleProcessLoopDelay?.p99} max ${l.idleProcessLoopDelay?.max} ms`;
}

/** Scenario 2: open-loop latency at half the platform's max rate (measured here unless BENCH_MAX_RATE is given). */
export async function latency(maxRate) {
  const bn = await benchNamespace();
  try {
    if (!maxRate) {
      const r = [];
      for (let i = 0; i < RUNS; i++) r.push((await platformRun(bn, i, { tag: 'max' })).jobsPerSec);
      maxRate = median(r);
    }
    const rate = Number(process.env.BENCH_RATE ?? Math.round(maxRate / 2));
    const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
    const n = Math.round(rate * seconds);
    // A warm-up before the measured messages: same rate, same processes, recorded apart (the
    // consumer's first second is reported as `firstSecond`).
    const warmupSeconds = Number(process.env.BENCH_LATENCY_WARMUP_SECONDS ?? 2);
    const warmup = Math.round(rate * warmupSeconds);
    // Producer and worker run with the services' Dockerfile NODE_OPTIONS, as deployed (the raw loop
    // too: the same Node settings for the limit); BENCH_AS_DEPLOYED=0 leaves them out.
    const asDeployed = nodeOptions('content-worker');
    const nodeEnv = asDeployed ? { NODE_OPTIONS: asDeployed } : {};
    const variants = (process.env.BENCH_LATENCY_VARIANTS ?? 'platform,raw').split(',');
    for (const v of variants) if (!LATENCY_VARIANTS[v]) throw new Error(`unknown latency variant ${v}; one of ${Object.keys(LATENCY_VARIANTS).join(', ')}`);
    const runs = Object.fromEntries(variants.map((v) => [v, []]));
    for (let i = 0; i < RUNS; i++) {
      // Interleaved: drift on the shared machine hits every variant alike.
      for (const v of variants) {
        // The machine's own stall: timer lateness of this (idle) runner process while the variant runs.
        const probe = monitorEventLoopDelay({ resolution: 5 });
        probe.enable();
        const r = await LATENCY_VARIANTS[v](bn, i, { tag: String(i), n, env: { BENCH_LATENCY: '1', BENCH_RATE: String(rate), BENCH_N: String(n), BENCH_WARMUP: String(rate), BENCH_WARMUP_N: String(warmup), ...nodeEnv } });
        probe.disable();
        r.latency.idleProcessLoopDelay = { p99: Math.round(probe.percentile(99) / 1e4) / 100, max: Math.round(probe.max / 1e4) / 100 };
        runs[v].push(r.latency);
        console.error(`[latency] run ${i + 1} ${v}: ${rate}/s x ${seconds} s: ${describe(r.latency)}`);
      }
    }
    const summary = Object.fromEntries(variants.map((v) => [v, {
      p50: median(runs[v].map((r) => r.p50)), p99: median(runs[v].map((r) => r.p99)), max: median(runs[v].map((r) => r.max)),
      steady: { p50: median(runs[v].map((r) => r.steady?.p50)), p99: median(runs[v].map((r) => r.steady?.p99)) },
      firstSecond: { p50: median(runs[v].map((r) => r.firstSecond?.p50)), p99: median(runs[v].map((r) => r.firstSecond?.p99)) },
      producerLagP99: median(runs[v].map((r) => r.producerLag.p99)), transitP99: median(runs[v].map((r) => r.transit.p99)), idleLoopDelayMax: median(runs[v].map((r) => r.idleProcessLoopDelay.max)),
    }]));
    const main = summary[variants[0]];
    return {
      maxRate, rate, seconds, warmupSeconds, nodeOptions: asDeployed ?? null, messages: n, variants, runs, summary,
      p50: main.p50, p99: main.p99, steady: main.steady, firstSecond: main.firstSecond, raw: summary.raw,
      goal: { p99Below: 10, met: main.p99 < 10 },
    };
  } finally {
    await bn.close();
  }
}

/** One profiled platform dispatch run (worker with --cpu-prof) for bench/README.md. */
export async function profile() {
  const bn = await benchNamespace();
  const dir = join(BENCH_DIR, 'results', 'profile');
  try {
    const r = await platformRun(bn, 0, { tag: 'prof', nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    return { ...r, dir };
  } finally {
    await bn.close();
  }
}
