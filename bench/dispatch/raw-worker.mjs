// The limit: a raw JetStream pull consume() + ack loop with the NATS client alone (JSON parse of
// each message, as the platform must do). Env: BENCH_STREAM, BENCH_DURABLE, BENCH_N, BENCH_LATENCY=1
// (record enqueue-to-handler latency as platform-worker.mjs does), BENCH_PREFETCH (default 1000).
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { latencyRecorder } from './latency-stats.mjs';

const env = process.env;
const N = Number(env.BENCH_N);
const nc = await connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-raw-worker' });
const js = jetstream(nc);
const consumer = await js.consumers.get(env.BENCH_STREAM, env.BENCH_DURABLE);
const messages = await consumer.consume({ max_messages: Number(env.BENCH_PREFETCH ?? 1000) });
const WARMUP_N = env.BENCH_LATENCY === '1' ? Number(env.BENCH_WARMUP_N ?? 0) : 0; // as platform-worker.mjs
const rec = env.BENCH_LATENCY === '1' ? latencyRecorder(N, Number(env.BENCH_WARMUP ?? 0), WARMUP_N) : undefined;
console.log('READY');
const now = () => performance.timeOrigin + performance.now();
let n = 0, firstAt = 0;
for await (const m of messages) {
  const p = m.json();
  if (rec) rec.record(p.i, p.t, p.s, now());
  m.ack();
  if (n === 0) firstAt = now();
  if (++n === WARMUP_N + N) break;
}
n -= WARMUP_N;
const doneAt = now();
console.log(`RESULT ${JSON.stringify({ handled: n, firstAt, doneAt, latency: rec?.result() })}`);
await nc.drain();
