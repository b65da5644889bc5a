// Worker process of the platform's messaging layer: a Nest hybrid app whose JetStreamServer feeds a
// no-op @JetStreamHandler (decorators applied by hand: plain ESM). Env: BENCH_NS, BENCH_DURABLE,
// BENCH_SUBJECT, BENCH_N, BENCH_CONCURRENCY, BENCH_PREFETCH (optional), BENCH_LATENCY=1 (collect
// enqueue-to-handler latency from payload.t, epoch ms with fractions).
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { JetStreamHandler, JetStreamServer, Messaging, MessagingModule } from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';
import { latencyRecorder } from './latency-stats.mjs';

const env = process.env;
const N = Number(env.BENCH_N);
const LATENCY = env.BENCH_LATENCY === '1';
const consumer = {
  stream: 'EVENTS', durable: env.BENCH_DURABLE, description: 'benchmark', filterSubject: env.BENCH_SUBJECT,
  ackWaitMs: 30_000, maxDeliver: 5, maxAckPending: 50_000,
};
const Schema = z.object({ i: z.number().int(), t: z.number(), s: z.number().optional() });
const logger = createLogger('bench-worker', 'warn');
const now = () => performance.timeOrigin + performance.now();

let handled = 0;
let firstAt = 0;
// Latency: BENCH_WARMUP_N warm-up messages (numbered below 0) come before the N measured ones;
// BENCH_WARMUP messages make the consumer's first second (see latency-stats.mjs).
const WARMUP_N = LATENCY ? Number(env.BENCH_WARMUP_N ?? 0) : 0;
const rec = LATENCY ? latencyRecorder(N, Number(env.BENCH_WARMUP ?? 0), WARMUP_N) : undefined;
let finish;
const done = new Promise((r) => (finish = r));

class BenchHandler {
  async handle(payload, _ctx) {
    if (rec) rec.record(payload.i, payload.t, payload.s ?? payload.t, now());
    if (handled === 0) firstAt = now();
    if (++handled === WARMUP_N + N) finish(now());
  }
}
const desc = Object.getOwnPropertyDescriptor(BenchHandler.prototype, 'handle');
JetStreamHandler({ consumer, schema: Schema })(BenchHandler.prototype, 'handle', desc);
Object.defineProperty(BenchHandler.prototype, 'handle', desc);
Injectable()(BenchHandler);
class BenchModule {}
Module({ imports: [MessagingModule.forRoot({ servers: env.NATS_URL ?? 'nats://127.0.0.1:4222', namespace: env.BENCH_NS, name: 'bench-worker', logger })], providers: [BenchHandler] })(BenchModule);

const app = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
const concurrency = Number(env.BENCH_CONCURRENCY ?? 50);
app.connectMicroservice({
  strategy: new JetStreamServer({
    messaging: app.get(Messaging),
    logger,
    concurrency: { [consumer.durable]: concurrency },
    ...(env.BENCH_PREFETCH ? { prefetch: { [consumer.durable]: Number(env.BENCH_PREFETCH) } } : {}),
  }),
});
await app.startAllMicroservices();
console.log('READY');
const timeout = setTimeout(() => { console.log(`RESULT ${JSON.stringify({ error: 'timeout', handled })}`); process.exit(2); }, Number(env.BENCH_TIMEOUT_MS ?? 120_000));
const doneAt = await done;
clearTimeout(timeout);
const latency = rec?.result();
console.log(`RESULT ${JSON.stringify({ handled: handled - WARMUP_N, firstAt, doneAt, latency })}`);
await app.close();
process.exit(0);
