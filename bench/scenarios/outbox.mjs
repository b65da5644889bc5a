// Scenario `outbox`: what the transactional outbox costs per roadmap (issue 19's measures), with task
// events, cancel notices and the log entries of committed effects going through it.
//  - SQL statements per roadmap, counted from PostgreSQL's own log: every service connects as a role
//    of its own whose `log_statement` is `all` (set with ALTER ROLE for this run), so only the
//    platform's statements are logged and every one is; split into the outbox's writes (INSERT INTO
//    outbox), the relay's reads, deletes and lease, and the rest. The relay's idle polling is
//    measured apart (statements per second with nothing to do) and included in the per-roadmap figure.
//  - CPU ms per roadmap: every service process's CPU (`/proc/<pid>/stat`) over the run.
//  - commit-to-publish delay: each task event's `at` (stamped when its transaction wrote it) against
//    the time the EVENTS stream stored it (p50/p99 over every event of the run), and the relay's own
//    `roadmap_outbox_publish_delay_seconds` (row written to publish acknowledged; mean from /metrics).
// Run the same file against a build of the commit before (`node bench/run.mjs outbox` in a checkout
// of it, this file copied into its bench/scenarios) for the "extra" figures: the difference is the cost.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { cpuMs, DATABASE_URL, NATS_URL, percentile, ROOT, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const { Messaging } = await import('@roadmap/messaging');
const LATENCY = Number(process.env.BENCH_LLM_LATENCY_MS ?? 100);
const ROADMAPS = Number(process.env.BENCH_OUTBOX_ROADMAPS ?? 4);
const IDLE_SECONDS = Number(process.env.BENCH_OUTBOX_IDLE_SECONDS ?? 5);
const ROLE = 'roadmap_bench_ob';
const PG_LOG = process.env.BENCH_PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';

/** The bench role's statements since `offset` bytes of the PostgreSQL log, by kind (null when the log cannot be read). */
function loggedStatements(offset) {
  if (!existsSync(PG_LOG)) return null;
  const text = readFileSync(PG_LOG, 'utf8').slice(offset);
  // A log entry starts with its timestamp; a statement's further lines follow it.
  const entries = text.split(/\n(?=\d{4}-\d\d-\d\d )/).filter((e) => e.includes(`${ROLE}@`) && /LOG:\s+(statement|execute [^:]*):/.test(e));
  const counts = { total: entries.length, outboxWrites: 0, relay: 0, transactionControl: 0 };
  for (const e of entries) {
    const sql = e.replace(/^[\s\S]*?LOG:\s+(statement|execute [^:]*):\s*/, '');
    if (/^INSERT INTO outbox/i.test(sql)) counts.outboxWrites++;
    else if (/\bFROM outbox\b|pg_try_advisory_lock|pg_advisory_unlock|(UN)?LISTEN roadmap_outbox/i.test(sql)) counts.relay++;
    if (/^(BEGIN|START TRANSACTION|COMMIT|ROLLBACK)\b/i.test(sql)) counts.transactionControl++;
  }
  return counts;
}

/** The relay's delay histogram, summed over every process's /metrics. */
async function relayDelay(platform) {
  let sum = 0;
  let count = 0;
  for (const p of platform.processes) {
    const text = await fetch(`http://127.0.0.1:${p.port}/metrics`).then((r) => r.text()).catch(() => '');
    sum += Number(/^roadmap_outbox_publish_delay_seconds_sum(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? 0);
    count += Number(/^roadmap_outbox_publish_delay_seconds_count(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? 0);
  }
  return { count, meanMs: count ? (sum / count) * 1000 : NaN };
}

/** Each task event's delay from its `at` to its storing in EVENTS (ms), and how many there are. */
async function eventDelays(namespace) {
  const messaging = await Messaging.connect({ servers: NATS_URL, namespace, name: 'bench-outbox' });
  try {
    const stream = messaging.streamName('EVENTS');
    const info = await messaging.jsm.streams.info(stream);
    const delays = [];
    const byType = {};
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await messaging.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      const event = msg?.json();
      if (!event?.at) continue;
      const delay = msg.time.getTime() - Date.parse(event.at);
      delays.push(delay);
      (byType[event.type] ??= []).push(delay);
    }
    const p = (xs) => {
      const sorted = xs.sort((a, b) => a - b);
      return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
    };
    return { all: delays.sort((a, b) => a - b), byType: Object.fromEntries(Object.entries(byType).map(([t, xs]) => [t, p(xs)])) };
  } finally {
    await messaging.close();
  }
}

export async function outbox() {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN SUPERUSER; END IF; END $$`);
  await admin.query(`ALTER ROLE ${ROLE} SET log_statement = 'all'`);
  const url = new URL(DATABASE_URL);
  url.username = ROLE;
  const platform = await Platform.start({
    databaseUrl: url.toString(),
    env: { LOG_LEVEL: 'warn', OFFLINE_LLM_LATENCY_MS: String(LATENCY), LLM_OWNER_CONCURRENCY: '0' },
    replicas: { 'workflow-worker': 1, 'content-worker': 2 },
    serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '16' } },
  });
  try {
    await sleep(2_000);
    const cpuOf = () => platform.processes.reduce((sum, p) => sum + cpuMs(p.child.pid), 0);
    // Idle: what the relay and the rest cost per second with nothing to do.
    const idleOffset = existsSync(PG_LOG) ? statSync(PG_LOG).size : 0;
    await sleep(IDLE_SECONDS * 1_000);
    const idle = loggedStatements(idleOffset);

    const logOffset = existsSync(PG_LOG) ? statSync(PG_LOG).size : 0;
    const cpuBefore = cpuOf();
    const started = Date.now();
    const posted = await Promise.all(
      Array.from({ length: ROADMAPS }, (_, i) => platform.request('POST', '/api/v1/roadmaps', { goal: `Become a backend engineer, track ${i + 1}` })),
    );
    for (const res of posted) if (res.status !== 202) throw new Error(`POST /api/v1/roadmaps answered ${res.status}: ${JSON.stringify(res.body)}`);
    for (const res of posted) await platform.waitForTask(res.body.taskId, ['completed'], 120_000);
    const elapsedMs = Date.now() - started;
    await sleep(1_500); // the last events, log entries and log lines land
    const cpu = cpuOf() - cpuBefore;
    const statements = loggedStatements(logOffset);
    const window = (Date.now() - started) / 1000;
    const [{ items }] = await platform.query(`SELECT count(*)::int AS items FROM content_items`);
    const { all: delays, byType } = await eventDelays(platform.namespace);
    const relay = await relayDelay(platform);
    const per = (n) => (n === undefined || n === null ? null : n / ROADMAPS);
    return {
      roadmaps: ROADMAPS,
      items,
      elapsedMs,
      latencyMs: LATENCY,
      cpuMsPerRoadmap: cpu / ROADMAPS,
      statementsPerRoadmap: statements && {
        total: per(statements.total),
        outboxWrites: per(statements.outboxWrites),
        relay: per(statements.relay),
        transactionControl: per(statements.transactionControl),
      },
      idleStatementsPerSecond: idle && { total: idle.total / IDLE_SECONDS, relay: idle.relay / IDLE_SECONDS },
      windowSeconds: window,
      events: delays.length,
      eventDelayMs: { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1), byType },
      relayDelay: relay,
    };
  } finally {
    await platform.stop();
    await admin.query(`ALTER ROLE ${ROLE} RESET log_statement`).catch(() => undefined);
    await admin.end();
  }
}
