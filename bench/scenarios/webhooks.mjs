// Scenario `webhooks`: BENCH_WEBHOOK_EVENTS (2,000) task completions delivered to a local receiver
// that answers 200 after 50 ms: deliveries per second and the p99 from the task's completion (its
// task.completed event) to the delivery's arrival. Then the same with the receiver failing half its
// requests with 500: every event must reach the application exactly once after deduplicating on
// webhook-id, none lost. The completions are task rows and their task.completed events published on
// the EVENTS stream as a worker publishes them (the webhook path alone is measured, not the workflow).
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuMs, NATS_URL, nowMs, percentile, ROOT, sleep } from '../lib.mjs';

const { Platform, E2E_OWNER } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const { Messaging } = await import(pathToFileURL(join(ROOT, 'libs', 'messaging', 'dist', 'src', 'index.js')).href);
const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const ANSWER_MS = 50;

/** A receiver answering after 50 ms; with `failHalf`, a random half of the requests get 500. */
async function receiver(failHalf) {
  const firstOk = new Map(); // webhook-id -> arrival of its first 200 (what the application processes)
  let requests = 0;
  let duplicates = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const id = req.headers['webhook-id'];
      setTimeout(() => {
        if (failHalf && Math.random() < 0.5) return res.writeHead(500).end();
        if (firstOk.has(id)) duplicates++;
        else firstOk.set(id, nowMs());
        res.writeHead(200).end();
      }, ANSWER_MS);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, firstOk, stats: () => ({ requests, duplicates }), close: () => server.close() };
}

/**
 * The webhook workers' own figures since they started (means per message, over every replica):
 * queue wait and handler time per consumer, the endpoint's answer time, the group-commit batch sizes.
 */
async function workerBreakdown(platform) {
  const sums = {};
  for (const worker of platform.processes.filter((p) => p.service === 'webhook-worker')) {
    const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    const pattern = /^(roadmap_messaging_queue_wait_seconds|roadmap_messaging_handler_duration_seconds|roadmap_webhook_attempt_duration_seconds|roadmap_batch_size)_(sum|count)\{?([^}]*)\}? ([0-9.e+-]+)$/gm;
    for (const m of text.matchAll(pattern)) {
      const label = /consumer="([^"]+)"/.exec(m[3])?.[1] ?? /batcher="([^"]+)"/.exec(m[3])?.[1] ?? '';
      const k = `${m[1].replace(/^roadmap_|_seconds$/g, '')}${label ? `{${label}}` : ''}`;
      sums[k] ??= { sum: 0, count: 0 };
      sums[k][m[2]] += Number(m[4]);
    }
  }
  return Object.fromEntries(
    Object.entries(sums).map(([k, v]) => [k, { mean: Math.round((v.sum / v.count) * (k.startsWith('batch_size') ? 10 : 10_000)) / 10, count: v.count }]),
  );
}

async function run(platform, messaging, failHalf) {
  const rx = await receiver(failHalf);
  try {
    const hook = await platform.request('POST', '/api/v1/webhooks', { url: rx.url, events: ['task.completed'] });
    if (hook.status !== 201) throw new Error(`webhook registration: ${hook.status} ${hook.text}`);
    const ids = Array.from({ length: EVENTS }, () => randomUUID());
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, created_at, updated_at)
       SELECT id, 'roadmap.generate', 'completed', $2, 'normal', '{}', 'bench', now(), now() FROM unnest($1::uuid[]) AS id`,
      [ids, E2E_OWNER],
    );
    const completedAt = new Map();
    const workerPids = platform.processes.filter((p) => p.service === 'webhook-worker').map((p) => p.child.pid);
    const workersCpu = () => workerPids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const cpuBefore = { worker: workersCpu(), bench: process.cpuUsage() };
    const started = nowMs();
    await Promise.all(
      ids.map((taskId) => {
        const at = new Date();
        completedAt.set(taskId, nowMs());
        const event = { type: 'task.completed', taskId, at: at.toISOString(), progress: { done: 1, failed: 0, total: 1 } };
        return messaging.js.publish(messaging.subject(`events.task.${taskId}`), JSON.stringify(event));
      }),
    );
    const publishMs = nowMs() - started; // the bench's own publishing of the burst, part of every latency below
    const deadline = Date.now() + Number(process.env.BENCH_WEBHOOK_WAIT_S ?? 600) * 1000;
    while (rx.firstOk.size < EVENTS && Date.now() < deadline) await sleep(50);
    const elapsedS = (Math.max(...rx.firstOk.values()) - started) / 1000;
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    // CPU used until the last delivery: the worker's, and this process's (publisher and receiver).
    const cpu = { workerMs: workersCpu() - cpuBefore.worker, benchMs: Math.round((benchCpu.user + benchCpu.system) / 1000) };
    const deliveries = await platform.query(
      `SELECT id, task_id, status, extract(epoch FROM created_at) * 1000 AS created_ms FROM webhook_deliveries WHERE webhook_id = $1`,
      [hook.body.id],
    );
    // Not delivered by the deadline but still being retried (backoff grows to 15 min) is not lost.
    const retrying = deliveries.filter((d) => d.status === 'pending' && !rx.firstOk.has(d.id)).length;
    const latencies = deliveries
      .filter((d) => rx.firstOk.has(d.id))
      .map((d) => rx.firstOk.get(d.id) - completedAt.get(d.task_id))
      .sort((a, b) => a - b);
    // Where the time goes: event -> delivery row (the fan-out's commit), and row -> arrival (queueing and sending).
    const fanOut = deliveries.map((d) => Number(d.created_ms) - completedAt.get(d.task_id)).sort((a, b) => a - b);
    await sleep(1_000); // anything still arriving would be a duplicate
    return {
      failHalf,
      events: EVENTS,
      delivered: rx.firstOk.size,
      deliveryRows: deliveries.length,
      retrying,
      lost: EVENTS - rx.firstOk.size - retrying,
      ...rx.stats(),
      deliveriesPerSec: rx.firstOk.size / elapsedS,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      publishMs,
      fanOutP50Ms: percentile(fanOut, 50),
      fanOutP99Ms: percentile(fanOut, 99),
      cpu,
      worker: await workerBreakdown(platform),
    };
  } finally {
    rx.close();
    // The next run's events must not also go to this run's (closed) receiver.
    await platform.request('GET', '/api/v1/webhooks').then((res) =>
      Promise.all(res.body.items.map((w) => platform.request('DELETE', `/api/v1/webhooks/${w.id}`))),
    );
  }
}

export async function webhooks() {
  const platform = await Platform.start({
    env: {
      LOG_LEVEL: 'error',
      WEBHOOKS_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '500',
      ...(process.env.BENCH_WEBHOOK_CONCURRENCY && { WORKER_CONCURRENCY: process.env.BENCH_WEBHOOK_CONCURRENCY }),
    },
    replicas: { 'workflow-worker': 0, 'content-worker': 0, 'log-sink': 0, 'webhook-worker': Number(process.env.BENCH_WEBHOOK_REPLICAS ?? 1) },
    // BENCH_WEBHOOK_PROFILE=1: the webhook worker runs with --cpu-prof (written at its graceful exit) into bench/results/profile-webhooks/.
    ...(process.env.BENCH_WEBHOOK_PROFILE === '1' && {
      serviceEnv: { 'webhook-worker': { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(ROOT, 'bench', 'results', 'profile-webhooks')}` } },
    }),
  });
  const messaging = await Messaging.connect({ servers: NATS_URL, namespace: platform.namespace, name: 'bench-webhooks' });
  try {
    const ok = await run(platform, messaging, false);
    const flaky = process.env.BENCH_WEBHOOK_FLAKY === '0' ? undefined : await run(platform, messaging, true);
    return { ok, flaky, goal: { met: ok.p99Ms < 1_000 && ok.lost === 0 && (flaky?.lost ?? 0) === 0 } };
  } finally {
    await messaging.close();
    await platform.stop();
  }
}
