// BullMQ producer: Queue.addBulk in chunks of 500 (its fast path, like publishMany's batching).
import { Queue } from 'bullmq';

const env = process.env;
const N = Number(env.BENCH_N);
const queue = new Queue(env.BENCH_QUEUE, { connection: { host: '127.0.0.1', port: 6379 } });
await queue.waitUntilReady();
const now = () => performance.timeOrigin + performance.now();
const startAt = now();
for (let i = 0; i < N; i += 500) {
  await queue.addBulk(Array.from({ length: Math.min(500, N - i) }, (_, k) => ({ name: 'noop', data: { i: i + k, t: now() }, opts: { removeOnComplete: true } })));
}
const endAt = now();
console.log(`RESULT ${JSON.stringify({ startAt, endAt })}`);
await queue.close();
