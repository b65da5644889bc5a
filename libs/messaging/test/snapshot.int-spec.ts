/*
 * JetStreamServer.snapshot() against the real nats-server: what the worker registry reports of a
 * process (in flight, handled per outcome) must be what its handlers are doing.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import { consumerConfig, deprovision, JetStreamContext, JetStreamHandler, JetStreamServer, Messaging, MessagingModule, provision } from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `ms${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const logger = createLogger('snapshot-int-test', process.env.LOG_LEVEL ?? 'silent');

const HELD: ConsumerDeclaration = {
  stream: STREAMS.EVENTS.name,
  durable: 'test-snapshot',
  description: 'integration test: snapshot',
  filterSubject: 'events.test.snapshot',
  ackWaitMs: 5_000,
  maxDeliver: 3,
  maxAckPending: 100,
};
const CONCURRENCY = 4;

/** Handlers wait until released, so the test sees them in flight. */
let release: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (release = resolve));

@Injectable()
class HeldHandler {
  @JetStreamHandler({ consumer: HELD, schema: z.object({ n: z.number().int() }) })
  async handle(payload: { n: number }, ctx: JetStreamContext): Promise<void> {
    // n < 0: fails its first delivery (a retry), then succeeds at once.
    if (payload.n < 0) {
      if (ctx.deliveryCount === 1) throw new Error('retry me');
      return;
    }
    await gate;
  }
}

@Module({ imports: [MessagingModule.forRoot({ servers: NATS_URL, namespace: NAMESPACE, name: 'snapshot-int-test', logger })], providers: [HeldHandler] })
class AppModule {}

describe('JetStreamServer.snapshot', () => {
  let messaging: Messaging;
  let app: INestApplication;
  let server: JetStreamServer;

  before(async () => {
    messaging = await Messaging.connect({ servers: NATS_URL, namespace: NAMESPACE, name: 'snapshot-int-test-setup' });
    await provision(messaging);
    await messaging.jsm.consumers.add(messaging.streamName(HELD.stream), consumerConfig(messaging, HELD));
    app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
    server = new JetStreamServer({ messaging: app.get(Messaging), logger, concurrency: { [HELD.durable]: CONCURRENCY }, shutdownGraceMs: 2_000 });
    app.connectMicroservice({ strategy: server });
    await app.startAllMicroservices();
    await app.init();
  });
  after(async () => {
    release();
    await app?.close();
    if (messaging) {
      await deprovision(messaging);
      await messaging.close();
    }
  });

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(server.snapshot())}`);
      await sleep(50);
    }
  }

  it('reports each consumer with its slots, the messages in flight, and what it handled by outcome', async () => {
    const [initial] = server.snapshot();
    assert.deepEqual({ ...initial, since: undefined }, {
      consumer: HELD.durable,
      stream: HELD.stream,
      filterSubject: HELD.filterSubject,
      concurrency: CONCURRENCY,
      configuredConcurrency: CONCURRENCY,
      paused: null,
      active: [],
      inFlight: 0,
      held: 0,
      handled: { ack: 0, retry: 0, dead_letter: 0 },
      since: undefined,
    });
    assert.ok(Date.now() - Date.parse(initial!.since) < 60_000);

    const subject = messaging.subject('events.test.snapshot');
    for (let n = 0; n < 3; n++) await messaging.js.publish(subject, JSON.stringify({ n }));
    await until(() => server.snapshot()[0]!.inFlight === 3, 'three handlers in flight');

    await messaging.js.publish(subject, 'not json');
    await messaging.js.publish(subject, JSON.stringify({ n: -1 }));
    await until(() => server.snapshot()[0]!.handled.dead_letter === 1 && server.snapshot()[0]!.handled.retry === 1, 'a dead letter and a retry');
    assert.equal(server.snapshot()[0]!.inFlight, 3, 'the held handlers are still in flight');
    release();
    await until(() => server.snapshot()[0]!.handled.ack === 4, 'four acks (three held, one retried)');
    const [done] = server.snapshot();
    assert.deepEqual({ inFlight: done!.inFlight, handled: done!.handled }, { inFlight: 0, handled: { ack: 4, retry: 1, dead_letter: 1 } });
    // A copy: changing it changes nothing in the server.
    (done!.handled as { ack: number }).ack = 99;
    assert.equal(server.snapshot()[0]!.handled.ack, 4);
  });
});
