/*
 * Dispatch-path benchmark (manual, not part of the test run):
 *   npm run build && node libs/messaging/dist/test/dispatch.bench.js [messages] [concurrency] [prefetch]
 * Drains a backlog of `messages` through (1) a raw JetStream consume()+ack() loop and (2) a
 * @JetStreamHandler in a Nest hybrid app, then publishes and handles concurrently (end to end),
 * and prints msg/s and the ratio. Uses a throw-away namespace on NATS_URL.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import {
  consumerConfig,
  deprovision,
  JetStreamHandler,
  JetStreamPublisher,
  JetStreamServer,
  Messaging,
  MessagingModule,
  provision,
  type JetStreamContext,
} from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `bench${Date.now().toString(36)}`;
const N = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 1);
const PREFETCH = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const logger = createLogger('dispatch-bench', 'warn');

const decl = (name: string): ConsumerDeclaration => ({
  stream: STREAMS.EVENTS.name,
  durable: `bench-${name}`,
  description: 'benchmark',
  filterSubject: `events.bench.${name}`,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 50_000,
});
const RAW = decl('raw');
const NEST = decl('nest');
const NEST_E2E = decl('nest-e2e');
const RAW_E2E = decl('raw-e2e');
const Schema = z.object({ i: z.number().int(), taskId: z.string() });

let handled = 0;
let onHandled: (() => void) | undefined;

@Injectable()
class BenchHandler {
  @JetStreamHandler({ consumer: NEST, schema: Schema })
  async handle(_payload: z.output<typeof Schema>, _ctx: JetStreamContext): Promise<void> {
    if (++handled === N) onHandled?.();
  }

  @JetStreamHandler({ consumer: NEST_E2E, schema: Schema })
  async handleE2e(_payload: z.output<typeof Schema>, _ctx: JetStreamContext): Promise<void> {
    if (++handled === N) onHandled?.();
  }
}

async function publishAll(publisher: JetStreamPublisher, subject: string): Promise<void> {
  await publisher.publishMany(Array.from({ length: N }, (_, i) => ({ subject, payload: { i, taskId: 'bench' } })));
}

async function rawDrain(messaging: Messaging, c: ConsumerDeclaration): Promise<void> {
  const consumer = await messaging.js.consumers.get(messaging.streamName(c.stream), c.durable);
  const messages = await consumer.consume();
  let n = 0;
  for await (const m of messages) {
    Schema.parse(m.json());
    m.ack();
    if (++n === N) break;
  }
}

/** Profiles the Nest backlog phase into $BENCH_PROFILE (a .cpuprofile for DevTools). */
async function startProfile(): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    session.disconnect();
  };
}

function rate(ms: number): string {
  return `${Math.round((N / ms) * 1000)} msg/s (${ms.toFixed(0)} ms)`;
}

async function main(): Promise<void> {
  const messaging = await Messaging.connect({ servers: NATS_URL, namespace: NAMESPACE, name: 'bench' });
  await provision(messaging);
  for (const c of [RAW, NEST, RAW_E2E, NEST_E2E]) await messaging.jsm.consumers.add(messaging.streamName(c.stream), consumerConfig(messaging, c));
  const publisher = new JetStreamPublisher(messaging);
  try {
    // Backlog drain.
    await publishAll(publisher, RAW.filterSubject);
    let t = performance.now();
    await rawDrain(messaging, RAW);
    const raw = performance.now() - t;
    console.log(`raw  backlog: ${rate(raw)}`);

    await publishAll(publisher, NEST.filterSubject);
    @Module({ imports: [MessagingModule.forRoot({ servers: NATS_URL, namespace: NAMESPACE, name: 'bench-app', logger })], providers: [BenchHandler] })
    class BenchModule {}
    const app = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
    const done = new Promise<void>((resolve) => (onHandled = resolve));
    app.connectMicroservice({
      strategy: new JetStreamServer({
        messaging: app.get(Messaging),
        logger,
        concurrency: { [NEST.durable]: CONCURRENCY, [NEST_E2E.durable]: CONCURRENCY },
        ...(PREFETCH === undefined ? {} : { prefetch: { [NEST.durable]: PREFETCH, [NEST_E2E.durable]: PREFETCH } }),
      }),
    });
    const profiler = process.env.BENCH_PROFILE ? await startProfile() : undefined;
    t = performance.now();
    await app.startAllMicroservices();
    await done;
    const nest = performance.now() - t;
    await profiler?.();
    console.log(`nest backlog: ${rate(nest)}  ratio ${(raw / nest).toFixed(2)} (concurrency ${CONCURRENCY}, prefetch ${PREFETCH ?? 'default'})`);

    // End to end: publish and handle at the same time.
    t = performance.now();
    await Promise.all([publishAll(publisher, RAW_E2E.filterSubject), rawDrain(messaging, RAW_E2E)]);
    const rawE2e = performance.now() - t;
    handled = 0;
    const doneE2e = new Promise<void>((resolve) => (onHandled = resolve));
    t = performance.now();
    await Promise.all([publishAll(publisher, NEST_E2E.filterSubject), doneE2e]);
    const nestE2e = performance.now() - t;
    console.log(`raw  e2e: ${rate(rawE2e)}`);
    console.log(`nest e2e: ${rate(nestE2e)}  ratio ${(rawE2e / nestE2e).toFixed(2)}`);
    await app.close();
  } finally {
    await deprovision(messaging);
    await messaging.close();
  }
}

await main();
