// BullMQ peer: one Worker, concurrency 50 (BENCH_CONCURRENCY), no-op processor, local Redis.
import { Worker } from 'bullmq';

const env = process.env;
const N = Number(env.BENCH_N);
const connection = { host: '127.0.0.1', port: 6379 };
const now = () => performance.timeOrigin + performance.now();
let n = 0, firstAt = 0, finish;
const done = new Promise((r) => (finish = r));
const worker = new Worker(env.BENCH_QUEUE, async () => {
  if (n === 0) firstAt = now();
  if (++n === N) finish(now());
}, { connection, concurrency: Number(env.BENCH_CONCURRENCY ?? 50), removeOnComplete: { count: 0 }, removeOnFail: { count: 1000 } });
await worker.waitUntilReady();
console.log('READY');
const doneAt = await done;
console.log(`RESULT ${JSON.stringify({ handled: n, firstAt, doneAt })}`);
await worker.close();
process.exit(0);
