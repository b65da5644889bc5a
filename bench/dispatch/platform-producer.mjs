// Producer process of the platform's messaging layer. Throughput mode: JetStreamPublisher.publishMany
// of BENCH_N messages. Latency mode (BENCH_RATE set): an open loop that publishes message i at
// t0 + i / rate with JetStreamPublisher.publish, not waiting for earlier acks; payload.t is the
// scheduled send time, so a late send counts against latency (no coordinated omission), and payload.s
// the actual send time (the worker splits latency into producer lag s - t and transit h - s).
import { JetStreamPublisher, Messaging } from '@roadmap/messaging';
import { openLoop, processStalls } from './latency-stats.mjs';

const env = process.env;
const N = Number(env.BENCH_N);
const subject = env.BENCH_SUBJECT;
const now = () => performance.timeOrigin + performance.now();
const messaging = await Messaging.connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', namespace: env.BENCH_NS, name: 'bench-producer' });
const publisher = new JetStreamPublisher(messaging);
const startAt = now();
let extra = {};
if (!env.BENCH_RATE) {
  await publisher.publishMany(Array.from({ length: N }, (_, i) => ({ subject, payload: { i, t: now() } })));
} else {
  const stalls = processStalls();
  // BENCH_WARMUP_N messages first, on the same schedule, numbered below 0: the worker handles them
  // and reports them apart (BENCH_LATENCY_WARMUP_SECONDS in the latency scenario).
  const W = Number(env.BENCH_WARMUP_N ?? 0);
  const r = await openLoop(W + N, Number(env.BENCH_RATE), startAt, now, (j, t, s) => publisher.publish(subject, { i: j - W, t, s }));
  extra = { ...r, producer: stalls() };
  if (r.failed) console.log(`failed ${r.failed}`);
}
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt, ...extra })}`);
await messaging.close();
