// Scenario 4: BENCH_LOG_N execution-log entries from BENCH_LOG_PRODUCERS producer processes, through
// LOGS, into PostgreSQL by a running log-sink process, timed from the first publish until every row
// is committed (count(*) polled); against a raw COPY of the same number of rows into the same table.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { CONSUMERS } from '@roadmap/contracts';
import { Namespace } from '@roadmap/messaging';
import { BENCH_DIR, child, cpuMs, DATABASE_URL, median, NATS_URL, NODE, nodeOptions, nowMs, resultOf, ROOT, sleep } from '../lib.mjs';

const { Platform } = await import(pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'platform.js')).href);
const N = Number(process.env.BENCH_LOG_N ?? 200_000);
const PRODUCERS = Number(process.env.BENCH_LOG_PRODUCERS ?? 4);
const RUNS = Number(process.env.BENCH_LOG_RUNS ?? 3);
/** Entries of the warm-up run before the measured ones (BENCH_LOG_WARMUP_N=0: none). */
const WARMUP_N = Number(process.env.BENCH_LOG_WARMUP_N ?? 50_000);

/** The sink's own figures (its /metrics): batches written, their summed insert time and size, since `base`. */
async function sinkMetrics(platform, base) {
  const proc = platform.processes.find((p) => p.service === 'log-sink');
  const text = await (await fetch(`http://127.0.0.1:${proc.port}/metrics`)).text();
  const val = (name) => Number(new RegExp(`^${name}(?:\{[^}]*\})? ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? NaN);
  const now = { batches: val('roadmap_log_sink_flush_duration_seconds_count'), insertSeconds: val('roadmap_log_sink_flush_duration_seconds_sum'), rows: val('roadmap_log_sink_batch_size_sum'), rowsWritten: val('roadmap_log_sink_rows_written_total') || 0 };
  if (!base) return now;
  const batches = now.batches - base.batches;
  return { batches, insertMs: Math.round((now.insertSeconds - base.insertSeconds) * 1000), meanBatchRows: Math.round((now.rows - base.rows) / batches) };
}

/**
 * The producers stand for services logging: they run with a service's Dockerfile NODE_OPTIONS (as
 * deployed, unless BENCH_AS_DEPLOYED=0). BENCH_LOG_PRODUCER_PROFILE=1: each writes a CPU profile into
 * bench/results/profile-log-producers/.
 */
function producerProfile() {
  const opts = nodeOptions('content-worker', process.env.BENCH_LOG_PRODUCER_PROFILE === '1' ? `--cpu-prof --cpu-prof-dir=${join(BENCH_DIR, 'results', 'profile-log-producers')}` : '');
  return opts ? { NODE_OPTIONS: opts } : {};
}

async function sinkRun(platform, n = N) {
  await platform.query('TRUNCATE execution_logs');
  const before = await sinkMetrics(platform);
  const sinkPid = platform.processes.find((p) => p.service === 'log-sink').child.pid;
  const sinkCpuBefore = cpuMs(sinkPid);
  const per = Math.ceil(n / PRODUCERS);
  const goSubject = `${platform.namespace}.bench.go`;
  const nc = await connect({ servers: NATS_URL, name: 'bench-logs' });
  const producers = [];
  for (let i = 0; i < PRODUCERS; i++) {
    producers.push(child(NODE, [join(BENCH_DIR, 'logs', 'log-producer.mjs')], { env: { BENCH_NS: platform.namespace, BENCH_N: String(Math.min(per, n - i * per)), BENCH_GO_SUBJECT: goSubject, ...producerProfile() }, label: `log-producer-${i}` }));
  }
  await Promise.all(producers.map((p) => p.waitFor(/^READY/, 60_000)));
  nc.publish(goSubject);
  await nc.flush();
  // Done when every LOGS message is acknowledged (the sink acks after its commit) once every producer
  // has its last entry stored: the log-sink consumer's info from NATS, polled every 10 ms, costs the
  // sink nothing. (Until the sixth pass: its committed-rows counter, scraped from its /metrics every
  // 10 ms — 1.4–2.3 ms of the sink's CPU per scrape, 20–30 % of what it spent in a run; before that a
  // count(*) every 50 ms, BENCH_LOG_DONE=count, which takes PostgreSQL CPU.) The committed rows over
  // time come from /metrics every 100 ms; one count(*) after checks the total.
  const byCount = process.env.BENCH_LOG_DONE === 'count';
  const jsm = await jetstreamManager(nc);
  const stream = new Namespace(platform.namespace).streamName(CONSUMERS.logSink.stream);
  let producersDone = false;
  const published = Promise.all(producers.map((p) => p.waitFor(/^RESULT /, 300_000)));
  void published.then(() => (producersDone = true), () => undefined);
  let committed = 0;
  const commits = []; // [epoch ms, rows committed] at each change seen
  const deadline = Date.now() + 300_000;
  let nextScrape = 0;
  let doneSeenAt;
  while (Date.now() < deadline) {
    if (byCount) [{ count: committed }] = await platform.query('SELECT count(*)::int AS count FROM execution_logs');
    else {
      if (producersDone) {
        const info = await jsm.consumers.info(stream, CONSUMERS.logSink.durable);
        if (info.num_pending === 0 && info.num_ack_pending === 0) doneSeenAt = nowMs();
      }
      if (doneSeenAt !== undefined || nowMs() >= nextScrape) {
        committed = (await sinkMetrics(platform)).rowsWritten - before.rowsWritten;
        nextScrape = nowMs() + 100;
      }
    }
    if (committed !== (commits.at(-1)?.[1] ?? 0)) commits.push([doneSeenAt ?? nowMs(), committed]);
    if (committed >= n || doneSeenAt !== undefined) break;
    await sleep(byCount ? 50 : 10);
  }
  await published;
  await nc.close();
  const results = producers.map(resultOf);
  const startAt = Math.min(...results.map((r) => r.startAt));
  const publishedAt = Math.max(...results.map((r) => r.endAt));
  for (const c of commits) c[0] = Math.round(c[0] - startAt);
  const doneAt = startAt + (commits.at(-1)?.[0] ?? NaN);
  const [{ count }] = await platform.query('SELECT count(*)::int AS count FROM execution_logs');
  if (count !== n) throw new Error(`log-sink committed ${count} of ${n} (counter: ${committed})`);
  const fallback = results.reduce((n, r) => n + r.fallback, 0);
  const sink = await sinkMetrics(platform, before);
  const firstAckMs = results.map((r) => Math.round(r.firstAckAt - startAt));
  // The sink's CPU over the run (from before the producers start until after the last commit).
  sink.cpuMs = Math.round(cpuMs(sinkPid) - sinkCpuBefore);
  return { sink, commits, firstAckMs, rowsPerSec: (n / (doneAt - startAt)) * 1000, ms: doneAt - startAt, publishMs: publishedAt - startAt, publishPerSec: (n / (publishedAt - startAt)) * 1000, fallback };
}

const esc = (s) => (s === null ? '\\N' : String(s).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n'));

async function copyRun(schema, n = N) {
  const client = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await client.query('TRUNCATE execution_logs');
    const taskId = randomUUID();
    // Rows built before timing, like the entries the sink receives already parsed.
    const rows = Array.from({ length: n }, (_, i) => [randomUUID(), new Date().toISOString(), taskId, 'bench-producer', 'bench:1', 'info', 'content_generation',
      `content item generated: tutorial for concept ${i % 50} (attempt 1)`, JSON.stringify({ i, kind: 'tutorial', attempt: 1 })].map(esc).join('\t') + '\n');
    const t = nowMs();
    const stream = client.query(copyStreams.from('COPY execution_logs (id, created_at, task_id, service, instance, level, step, message, data) FROM STDIN'));
    await pipeline(Readable.from((function* () { for (let i = 0; i < rows.length; i += 1000) yield rows.slice(i, i + 1000).join(''); })()), stream);
    const ms = nowMs() - t;
    const { rows: [{ count }] } = await client.query('SELECT count(*)::int AS count FROM execution_logs');
    if (count !== n) throw new Error(`COPY stored ${count} of ${n}`);
    return { rowsPerSec: (n / ms) * 1000, ms };
  } finally {
    await client.end();
  }
}

/** Sink settings to try (LOG_SINK_BATCH_SIZE, LOG_SINK_FLUSH_MS, WORKER_CONCURRENCY), passed through when set. */
function sinkEnv() {
  const out = {};
  for (const [from, to] of [['BENCH_LOG_SINK_BATCH', 'LOG_SINK_BATCH_SIZE'], ['BENCH_LOG_SINK_FLUSH_MS', 'LOG_SINK_FLUSH_MS'], ['BENCH_LOG_SINK_CONCURRENCY', 'WORKER_CONCURRENCY']]) if (process.env[from]) out[to] = process.env[from];
  return out;
}

export async function logs() {
  // BENCH_LOG_PROFILE=1: the log-sink runs with --cpu-prof (written at its graceful exit) into bench/results/profile-logs/.
  const profileDir = join(BENCH_DIR, 'results', 'profile-logs');
  // The sink runs as deployed (its Dockerfile's NODE_OPTIONS) unless BENCH_AS_DEPLOYED=0.
  const sinkOptions = nodeOptions('log-sink', process.env.BENCH_LOG_PROFILE === '1' ? `--cpu-prof --cpu-prof-dir=${profileDir}` : '');
  const serviceEnv = { 'log-sink': { ...(sinkOptions ? { NODE_OPTIONS: sinkOptions } : {}), ...sinkEnv() } };
  const platform = await Platform.start({ replicas: { gateway: 0, 'workflow-worker': 0, 'content-worker': 0, 'log-sink': 1 }, env: { LOG_LEVEL: 'warn' }, serviceEnv });
  try {
    const sink = [], copy = [];
    // A warm-up of both paths, not measured (a log sink runs for days). It made both faster, the
    // ratio alike (bench/README.md, sixth pass); the first measured run still costs the sink more CPU.
    if (WARMUP_N > 0) {
      await sinkRun(platform, WARMUP_N);
      await copyRun(platform.namespace, WARMUP_N);
    }
    for (let i = 0; i < RUNS; i++) {
      sink.push(await sinkRun(platform));
      copy.push(await copyRun(platform.namespace));
      console.error(`[logs] run ${i + 1}: sink ${Math.round(sink.at(-1).rowsPerSec)} rows/s in ${Math.round(sink.at(-1).ms)} ms (publish ${Math.round(sink.at(-1).publishPerSec)}/s, done at ${Math.round(sink.at(-1).publishMs)} ms; ${sink.at(-1).sink.batches} batches of ${sink.at(-1).sink.meanBatchRows} rows, inserts ${sink.at(-1).sink.insertMs} ms summed, sink CPU ${sink.at(-1).sink.cpuMs} ms), COPY ${Math.round(copy.at(-1).rowsPerSec)} rows/s, ratio ${(sink.at(-1).rowsPerSec / copy.at(-1).rowsPerSec).toFixed(2)}; first publish acked (ms, per producer) ${sink.at(-1).firstAckMs.join('/')}; committed rows over time (ms: rows): ${sink.at(-1).commits.map(([t, r]) => `${t}: ${r}`).join(', ')}`);
    }
    const ratio = median(sink.map((s, i) => s.rowsPerSec / copy[i].rowsPerSec));
    return {
      n: N, producers: PRODUCERS, runs: RUNS, sink, copy,
      sinkRowsPerSec: median(sink.map((s) => s.rowsPerSec)), copyRowsPerSec: median(copy.map((c) => c.rowsPerSec)),
      publishPerSec: median(sink.map((s) => s.publishPerSec)), ratio, goal: { ratioAtLeast: 0.5, met: ratio >= 0.5 },
    };
  } finally {
    await platform.stop();
  }
}
