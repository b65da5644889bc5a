// Raw JetStream publisher: N publishes, 256 awaiting their ack at once (as publishMany), same
// payload and a timestamp header. Env: BENCH_SUBJECT (full subject), BENCH_N.
import { connect, headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

const env = process.env;
const N = Number(env.BENCH_N);
const nc = await connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-raw-producer' });
const js = jetstream(nc);
const now = () => performance.timeOrigin + performance.now();
const startAt = now();
let next = 0;
const worker = async () => {
  while (next < N) {
    const i = next++;
    await js.publish(env.BENCH_SUBJECT, JSON.stringify({ i, t: now() }));
  }
};
await Promise.all(Array.from({ length: 256 }, worker));
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt })}`);
await nc.drain();
