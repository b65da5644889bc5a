// Producer process of the platform's messaging layer. Throughput mode: JetStreamPublisher.publishMany
// of BENCH_N messages. Latency mode (BENCH_RATE set): an open loop that publishes message i at
// t0 + i / rate with JetStreamPublisher.publish, not waiting for earlier acks; payload.t is the
// scheduled send time, so a late send counts against latency (no coordinated omission).
import { JetStreamPublisher, Messaging } from '@roadmap/messaging';

const env = process.env;
const N = Number(env.BENCH_N);
const subject = env.BENCH_SUBJECT;
const now = () => performance.timeOrigin + performance.now();
const messaging = await Messaging.connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', namespace: env.BENCH_NS, name: 'bench-producer' });
const publisher = new JetStreamPublisher(messaging);
const startAt = now();
if (!env.BENCH_RATE) {
  await publisher.publishMany(Array.from({ length: N }, (_, i) => ({ subject, payload: { i, t: now() } })));
} else {
  const rate = Number(env.BENCH_RATE);
  let sent = 0;
  let failed = 0;
  const inflight = new Set();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(N, Math.floor(((now() - startAt) * rate) / 1000) + 1);
      while (sent < due) {
        const t = startAt + (sent * 1000) / rate;
        const p = publisher.publish(subject, { i: sent, t }).catch(() => failed++);
        inflight.add(p); p.finally(() => inflight.delete(p));
        sent++;
      }
      if (sent >= N) resolve(); else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inflight);
  if (failed) console.log(`failed ${failed}`);
}
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt })}`);
await messaging.close();
