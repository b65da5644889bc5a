/* Helpers shared by the messaging integration tests (real nats-server, a namespace per file). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import { consumerConfig, deprovision, JetStreamServer, Messaging, provision, type JetStreamServerOptions } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';

/** A test-only consumer on the EVENTS stream (limits retention, so test consumers may share it), with short timings. */
export function testConsumer(name: string, maxDeliver: number, overrides: Partial<ConsumerDeclaration> = {}): ConsumerDeclaration {
  return {
    stream: STREAMS.EVENTS.name,
    durable: `test-${name}`,
    description: `integration test: ${name}`,
    filterSubject: `events.test.${name}`,
    ackWaitMs: 2_000,
    maxDeliver,
    maxAckPending: 100,
    ...overrides,
  };
}

/** Polls `check` every 25 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether the consumer handed out everything and every delivery was settled (acked or terminated). */
export async function drained(messaging: Messaging, decl: ConsumerDeclaration): Promise<boolean> {
  const info = await messaging.jsm.consumers.info(messaging.streamName(decl.stream), decl.durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** A Nest app serving `module`'s handlers from `consumers` (created first) in its own namespace, and how to take it down. */
export interface HandlerApp {
  readonly messaging: Messaging;
  readonly app: INestApplication;
  stop(): Promise<void>;
}

/**
 * Connects (`name`), provisions the namespace, adds the test `consumers` as declared, and starts a
 * hybrid app whose JetStreamServer has `server`'s options. `stop()` closes the app and deletes the streams.
 */
export async function startHandlerApp(
  module: Type,
  options: { servers: string; namespace: string; name: string; logger: Logger; consumers: readonly ConsumerDeclaration[]; server: Omit<JetStreamServerOptions, 'messaging' | 'logger'> },
): Promise<HandlerApp> {
  const messaging = await Messaging.connect({ servers: options.servers, namespace: options.namespace, name: options.name });
  await provision(messaging);
  for (const decl of options.consumers) await messaging.jsm.consumers.add(messaging.streamName(decl.stream), consumerConfig(messaging, decl));
  const app = await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  app.connectMicroservice({ strategy: new JetStreamServer({ ...options.server, messaging: app.get(Messaging), logger: options.logger }) });
  await app.startAllMicroservices();
  await app.init();
  return {
    messaging,
    app,
    async stop() {
      await app.close();
      await deprovision(messaging);
      await messaging.close();
    },
  };
}
