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
  const r = await openLoop(N, Number(env.BENCH_RATE), startAt, now, (i, t, s) => publisher.publish(subject, { i, t, s }));
  extra = { ...r, producer: stalls() };
  if (r.failed) console.log(`failed ${r.failed}`);
}
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt, ...extra })}`);
await messaging.close();
