// Raw JetStream publisher: N publishes, 256 awaiting their ack at once (as publishMany), same
// payload and a timestamp header. Latency mode (BENCH_RATE set): the same open loop as the
// platform's producer (platform-producer.mjs), with js.publish. Env: BENCH_SUBJECT (full subject), BENCH_N.
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { openLoop, processStalls } from './latency-stats.mjs';

const env = process.env;
const N = Number(env.BENCH_N);
const nc = await connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-raw-producer' });
const js = jetstream(nc);
const now = () => performance.timeOrigin + performance.now();
const startAt = now();
let extra = {};
if (!env.BENCH_RATE) {
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      await js.publish(env.BENCH_SUBJECT, JSON.stringify({ i, t: now() }));
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
} else {
  const stalls = processStalls();
  const W = Number(env.BENCH_WARMUP_N ?? 0); // as in platform-producer.mjs
  const r = await openLoop(W + N, Number(env.BENCH_RATE), startAt, now, (j, t, s) => js.publish(env.BENCH_SUBJECT, JSON.stringify({ i: j - W, t, s })));
  extra = { ...r, producer: stalls() };
}
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt, ...extra })}`);
await nc.drain();
