/*
 * Operator controls against the real nats-server: two JetStreamServers (two worker processes' worth)
 * share one consumer; a pause written to the ADMIN_CONTROL bucket stops both from starting anything
 * new, a resume continues with every message handled exactly once and never redelivered, a new
 * replica of a paused consumer pulls nothing, concurrency changes apply at runtime, and a drain
 * reaches only the worker it names.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import {
  ConsumerControl,
  consumerConfig,
  deprovision,
  JetStreamContext,
  JetStreamHandler,
  JetStreamServer,
  Messaging,
  MessagingModule,
  provision,
} from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `mc${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const logger = createLogger('control-int-test', process.env.LOG_LEVEL ?? 'silent');

const CONTROLLED: ConsumerDeclaration = {
  stream: STREAMS.EVENTS.name,
  durable: 'test-control',
  description: 'integration test: operator controls',
  filterSubject: 'events.test.control',
  ackWaitMs: 2_000,
  maxDeliver: 3,
  maxAckPending: 1000,
};
/** A consumer whose handlers wait (as a content item waits for an LLM slot) before their real work. */
const WAITING: ConsumerDeclaration = { ...CONTROLLED, durable: 'test-control-waiting', filterSubject: 'events.test.waiting' };
const HANDLER_MS = 150;
const CONCURRENCY = 3;

/** Every handler start (both workers): message, worker, time, delivery. */
const starts: Array<{ n: number; worker: string; at: number; delivery: number }> = [];
const running = new Map<string, number>();
const maxRunning = new Map<string, number>();
const workerOf = new WeakMap<object, string>();

@Injectable()
class ControlledHandler {
  @JetStreamHandler({ consumer: CONTROLLED, schema: z.object({ n: z.number().int() }) })
  async handle(payload: { n: number }, ctx: JetStreamContext): Promise<void> {
    const worker = workerOf.get(this) ?? '?';
    starts.push({ n: payload.n, worker, at: Date.now(), delivery: ctx.deliveryCount });
    running.set(worker, (running.get(worker) ?? 0) + 1);
    maxRunning.set(worker, Math.max(maxRunning.get(worker) ?? 0, running.get(worker)!));
    await sleep(HANDLER_MS);
    running.set(worker, running.get(worker)! - 1);
  }
}

/** WAITING handlers: delivered, then wait for the gate, then for a resume, then "start". */
const waiting = { delivered: 0, started: [] as Array<{ n: number; delivery: number; pausedWhenChecked: boolean }> };
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (openGate = resolve));

@Injectable()
class WaitingHandler {
  @JetStreamHandler({ consumer: WAITING, schema: z.object({ n: z.number().int() }) })
  async handle(payload: { n: number }, ctx: JetStreamContext): Promise<void> {
    waiting.delivered++;
    await gate;
    const pausedWhenChecked = ctx.paused;
    await ctx.whenResumed();
    waiting.started.push({ n: payload.n, delivery: ctx.deliveryCount, pausedWhenChecked });
  }
}

@Module({
  imports: [MessagingModule.forRoot({ servers: NATS_URL, namespace: NAMESPACE, name: 'control-int-test', logger })],
  providers: [ControlledHandler, WaitingHandler],
})
class AppModule {}

interface Worker {
  readonly id: string;
  readonly app: INestApplication;
  readonly server: JetStreamServer;
  drained: number;
}

describe('JetStreamServer operator controls', () => {
  let messaging: Messaging;
  let control: ConsumerControl;
  const workers: Worker[] = [];

  const controlled = (w: Worker) => w.server.snapshot().find((r) => r.consumer === CONTROLLED.durable)!;

  async function startWorker(id: string): Promise<Worker> {
    const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
    workerOf.set(app.get(ControlledHandler), id);
    const worker: Worker = { id, app, drained: 0, server: undefined as unknown as JetStreamServer };
    const server = new JetStreamServer({
      messaging: app.get(Messaging),
      logger,
      concurrency: { [CONTROLLED.durable]: CONCURRENCY, [WAITING.durable]: 4 },
      shutdownGraceMs: 2_000,
      control: { workerId: id, onDrain: () => worker.drained++ },
    });
    (worker as { server: JetStreamServer }).server = server;
    app.connectMicroservice({ strategy: server });
    await app.startAllMicroservices();
    await app.init();
    workers.push(worker);
    return worker;
  }

  async function publish(from: number, count: number): Promise<void> {
    const subject = messaging.subject('events.test.control');
    for (let n = from; n < from + count; n++) await messaging.js.publish(subject, JSON.stringify({ n }));
  }

  async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(workers.map((w) => w.server.snapshot()))}`);
      await sleep(25);
    }
  }

  async function pending() {
    const info = await messaging.jsm.consumers.info(messaging.streamName(CONTROLLED.stream), CONTROLLED.durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  }

  function handledOnce(from: number, count: number): void {
    const seen = starts.filter((s) => s.n >= from && s.n < from + count);
    const byN = new Map<number, number>();
    for (const s of seen) byN.set(s.n, (byN.get(s.n) ?? 0) + 1);
    assert.equal(byN.size, count, 'every message was handled');
    assert.deepEqual([...byN.values()].filter((times) => times !== 1), [], 'no message was handled twice');
    assert.deepEqual(seen.filter((s) => s.delivery !== 1), [], 'no message was redelivered');
  }

  before(async () => {
    messaging = await Messaging.connect({ servers: NATS_URL, namespace: NAMESPACE, name: 'control-int-test-setup' });
    await provision(messaging);
    await messaging.jsm.consumers.add(messaging.streamName(CONTROLLED.stream), consumerConfig(messaging, CONTROLLED));
    await messaging.jsm.consumers.add(messaging.streamName(WAITING.stream), consumerConfig(messaging, WAITING));
    control = new ConsumerControl(messaging);
    await startWorker('worker-a');
    await startWorker('worker-b');
  });
  after(async () => {
    for (const w of workers) await w.app.close().catch(() => undefined);
    if (messaging) {
      await deprovision(messaging);
      await messaging.close();
    }
  });

  it('a pause stops new starts on both workers within a second; running handlers finish; resume handles the rest once', async () => {
    await publish(0, 60);
    await until(() => starts.length >= 8, 'both workers started handling');
    await control.pause(CONTROLLED.durable, 'ops@example.com');
    const pausedAt = Date.now();
    await until(() => workers.every((w) => controlled(w).inFlight === 0), 'in-flight handlers finished');
    await sleep(1_500);
    const late = starts.filter((s) => s.at > pausedAt + 1_000);
    assert.deepEqual(late, [], 'nothing started more than 1 s after the pause');
    for (const w of workers) assert.deepEqual(controlled(w).paused?.by, 'ops@example.com', `${w.id} reports the pause`);
    const before = starts.length;
    assert.ok(before < 60, `work remained while paused (${before} of 60 started)`);

    await control.resume(CONTROLLED.durable);
    await until(async () => {
      const p = await pending();
      return p.pending === 0 && p.ackPending === 0 && starts.length >= 60;
    }, 'the rest handled after resume');
    handledOnce(0, 60);
    assert.equal((await pending()).redelivered, 0);
    assert.deepEqual(new Set(starts.map((s) => s.worker)), new Set(['worker-a', 'worker-b']), 'both workers took part');
  });

  it('handlers already delivered can wait for a resume (ctx.whenResumed): no delivery spent', async () => {
    const subject = messaging.subject('events.test.waiting');
    for (let n = 0; n < 3; n++) await messaging.js.publish(subject, JSON.stringify({ n }));
    await until(() => waiting.delivered === 3, 'three delivered, waiting at the gate');
    await control.pause(WAITING.durable, 'ops@example.com');
    await until(() => workers.every((w) => w.server.snapshot().find((r) => r.consumer === WAITING.durable)?.paused !== null), 'the pause seen');
    openGate();
    await sleep(1_000);
    assert.equal(waiting.started.length, 0, 'nothing started while paused');
    await control.resume(WAITING.durable);
    await until(() => waiting.started.length === 3, 'all three started after the resume');
    assert.deepEqual(waiting.started.map((s) => [s.delivery, s.pausedWhenChecked]), [[1, true], [1, true], [1, true]]);
  });

  it('a new replica of a paused consumer pulls nothing until resumed', async () => {
    await control.pause(CONTROLLED.durable, 'ops@example.com');
    const a = workers[0]!;
    await a.app.close();
    workers.shift();
    await workers[0]!.app.close();
    workers.shift();
    const fresh = await startWorker('worker-c');
    const from = starts.length;
    await publish(100, 10);
    await sleep(1_500);
    assert.equal(starts.length, from, 'the new replica started nothing while paused');
    assert.equal(controlled(fresh).paused?.by, 'ops@example.com');
    await control.resume(CONTROLLED.durable);
    await until(() => starts.filter((s) => s.n >= 100).length >= 10, 'resumed replica handles the queue');
    handledOnce(100, 10);
  });

  it('concurrency changes at runtime, for all workers or one, and back', async () => {
    await startWorker('worker-d');
    const [c, d] = workers as [Worker, Worker];
    await control.setConcurrency(CONTROLLED.durable, 1, 'ops@example.com');
    await until(() => workers.every((w) => controlled(w).concurrency === 1), 'every worker at 1 slot');
    await control.setConcurrency(CONTROLLED.durable, 5, 'ops@example.com', d.id);
    await until(() => controlled(d).concurrency === 5, 'worker-d at 5 slots');
    assert.equal(controlled(c).concurrency, 1, 'worker-c keeps the setting for all');
    maxRunning.clear();
    await publish(200, 40);
    await until(() => starts.filter((s) => s.n >= 200).length >= 40, 'the batch handled');
    assert.equal(maxRunning.get('worker-c'), 1, 'worker-c never ran more than one');
    assert.ok((maxRunning.get('worker-d') ?? 0) > 1, `worker-d ran several at once (${maxRunning.get('worker-d')})`);
    handledOnce(200, 40);
    await control.setConcurrency(CONTROLLED.durable, null, 'ops@example.com');
    await control.setConcurrency(CONTROLLED.durable, null, 'ops@example.com', d.id);
    await until(() => workers.every((w) => controlled(w).concurrency === CONCURRENCY), 'back to the configured slots');
  });

  it('a drain reaches only the worker it names', async () => {
    const [c, d] = workers as [Worker, Worker];
    await control.drain(d.id, 'ops@example.com');
    await until(() => d.drained === 1, 'worker-d told to drain');
    await sleep(300);
    assert.equal(c.drained, 0);
    assert.equal(d.drained, 1, 'told once');
    await d.app.close();
    workers.splice(workers.indexOf(d), 1);
    const state = await control.read();
    assert.equal(state.drain.has(d.id), false, 'a drained worker removes its drain key on the way out');
  });
});
