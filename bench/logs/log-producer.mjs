// Producer of execution-log entries through the platform's own path: ExecutionLogger (one entry per
// log() call, Nats-Msg-Id = entry id) over a JetStreamPublisher, BENCH_INFLIGHT calls at once.
// Env: BENCH_NS, BENCH_N (entries of this process), BENCH_INFLIGHT (default 256), BENCH_GO_SUBJECT
// (core NATS subject: start when a message arrives on it).
import { randomUUID } from 'node:crypto';
import { JetStreamPublisher, Messaging } from '@roadmap/messaging';
import { createLogger, ExecutionLogger } from '@roadmap/observability';

const env = process.env;
const N = Number(env.BENCH_N);
const messaging = await Messaging.connect({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', namespace: env.BENCH_NS, name: 'bench-log-producer' });
const logger = new ExecutionLogger(`bench-producer`, new JetStreamPublisher(messaging), createLogger('bench-log-producer', 'warn'));
const taskId = randomUUID();
const now = () => performance.timeOrigin + performance.now();
// Every producer connects first, then all start together on the scenario's signal (core NATS), so
// process start-up (spawned at once on 2 cores) is not timed as ingestion.
const go = env.BENCH_GO_SUBJECT ? messaging.nc.subscribe(env.BENCH_GO_SUBJECT, { max: 1 }) : undefined;
await messaging.nc.flush();
console.log('READY');
if (go) for await (const _ of go) break;
const startAt = now();
let next = 0, fallback = 0, firstAckAt = 0;
const worker = async () => {
  while (next < N) {
    const i = next++;
    const ok = await logger.info(`content item generated: tutorial for concept ${i % 50} (attempt 1)`, { taskId, step: 'content_generation', data: { i, kind: 'tutorial', attempt: 1 } });
    if (!ok) fallback++;
    firstAckAt ||= now();
  }
};
await Promise.all(Array.from({ length: Number(env.BENCH_INFLIGHT ?? 256) }, worker));
console.log(`RESULT ${JSON.stringify({ startAt, firstAckAt, endAt: now(), fallback })}`);
await messaging.close();
