/*
 * Time limits and provisioned attempt bounds of the JetStream server, against the real nats-server.
 * Own namespace; test consumers on the EVENTS stream (limits retention), deleted at the end.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredMsg } from '@nats-io/jetstream';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Headers, RetryableError, STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import {
  JetStreamContext,
  JetStreamHandler,
  JetStreamPublisher,
  Messaging,
  MessagingModule,
  TimeLimitExceeded,
} from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';
import { drained as isDrained, startHandlerApp, testConsumer, waitFor, type HandlerApp } from './helpers.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `tl${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const logger = createLogger('time-limits-int-test', process.env.LOG_LEVEL ?? 'silent');

const consumer = testConsumer;
/** Stops when its signal aborts; finishes quickly from its second delivery on, unless told to keep being slow. */
const COOPERATIVE = consumer('cooperative', 3);
/** Ignores its signal: only the hard limit ends it. */
const STUBBORN = consumer('stubborn', 3);
/** Declared with 5 deliveries, provisioned with 2: the consumer's own max_deliver wins. */
const BOUNDED = consumer('bounded', 5);
const BOUNDED_PROVISIONED = 2;

const SOFT_MS = 300;
const HARD_MS = 900;
const STUBBORN_MS = 3_000;

const Payload = z.object({ n: z.number().int(), slowAlways: z.boolean().default(false) });
type Payload = z.infer<typeof Payload>;

interface Seen {
  delivery: number;
  reason?: unknown;
  last: boolean;
}

@Injectable()
class Recorder {
  readonly cooperative = new Map<number, Seen[]>();
  readonly bounded: Seen[] = [];
  stubbornStarted = 0;
  stubbornFinished = 0;
}

@Injectable()
class Handlers {
  constructor(@Inject(Recorder) private readonly recorder: Recorder) {}

  @JetStreamHandler({ consumer: COOPERATIVE, schema: Payload })
  async cooperative(payload: Payload, ctx: JetStreamContext): Promise<void> {
    const seen: Seen = { delivery: ctx.deliveryCount, last: ctx.isLastDelivery };
    const list = this.recorder.cooperative.get(payload.n) ?? [];
    list.push(seen);
    this.recorder.cooperative.set(payload.n, list);
    if (ctx.deliveryCount > 1 && !payload.slowAlways) return;
    try {
      await sleep(10_000, undefined, { signal: ctx.signal });
    } catch (error) {
      seen.reason = ctx.signal.reason;
      throw error;
    }
  }

  @JetStreamHandler({ consumer: STUBBORN, schema: Payload })
  async stubborn(): Promise<void> {
    this.recorder.stubbornStarted++;
    await sleep(STUBBORN_MS);
    this.recorder.stubbornFinished++;
  }

  @JetStreamHandler({ consumer: BOUNDED, schema: Payload })
  async bounded(_payload: Payload, ctx: JetStreamContext): Promise<void> {
    this.recorder.bounded.push({ delivery: ctx.deliveryCount, last: ctx.isLastDelivery });
    throw new RetryableError('LLM_UNAVAILABLE', 'model overloaded');
  }
}

@Module({
  imports: [MessagingModule.forRoot({ servers: NATS_URL, namespace: NAMESPACE, name: 'time-limits-int-test-app', logger })],
  providers: [Recorder, Handlers],
})
class TestModule {}

let messaging: Messaging;
let publisher: JetStreamPublisher;
let app: INestApplication;
let recorder: Recorder;

async function deadLetters(): Promise<StoredMsg[]> {
  const stream = messaging.streamName(STREAMS.DEAD_LETTERS.name);
  const { state } = await messaging.jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await messaging.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(m);
  }
  return out;
}

async function deadLetterOf(decl: ConsumerDeclaration): Promise<StoredMsg | undefined> {
  return (await deadLetters()).find((m) => m.header.get(Headers.deadLetterSubject) === decl.filterSubject);
}

const drained = (decl: ConsumerDeclaration) => isDrained(messaging, decl);

let handlers: HandlerApp | undefined;

before(async () => {
  const limits = { softMs: SOFT_MS, hardMs: HARD_MS };
  handlers = await startHandlerApp(TestModule, {
    servers: NATS_URL,
    namespace: NAMESPACE,
    name: 'time-limits-int-test',
    logger,
    consumers: [COOPERATIVE, STUBBORN, { ...BOUNDED, maxDeliver: BOUNDED_PROVISIONED }],
    server: {
      concurrency: { [COOPERATIVE.durable]: 4, [STUBBORN.durable]: 2, [BOUNDED.durable]: 1 },
      timeLimits: { [COOPERATIVE.durable]: limits, [STUBBORN.durable]: limits },
    },
  });
  ({ messaging, app } = handlers);
  publisher = new JetStreamPublisher(messaging);
  recorder = app.get(Recorder);
});

after(() => handlers?.stop());

describe('time limits', () => {
  it('aborts the signal at the soft limit with a TimeLimitExceeded reason; the message is retried and then acked', async () => {
    await publisher.publish(COOPERATIVE.filterSubject, { n: 1 });
    await waitFor('the retry', () => (recorder.cooperative.get(1)?.length ?? 0) >= 2);
    await waitFor('the consumer drained', () => drained(COOPERATIVE));
    const [first, second] = recorder.cooperative.get(1)!;
    assert.ok(first!.reason instanceof TimeLimitExceeded, `first delivery aborted by the soft limit (reason: ${String(first!.reason)})`);
    assert.equal((first!.reason as TimeLimitExceeded).limit, 'soft');
    assert.equal(second!.delivery, 2);
    assert.equal(recorder.cooperative.get(1)!.length, 2, 'acked after the second delivery');
    assert.equal(await deadLetterOf(COOPERATIVE), undefined);
  });

  it('dead-letters as time_limit when the soft limit passes on the last delivery', async () => {
    await publisher.publish(COOPERATIVE.filterSubject, { n: 2, slowAlways: true });
    await waitFor('the dead letter', async () => (await deadLetterOf(COOPERATIVE)) !== undefined);
    const deliveries = recorder.cooperative.get(2)!;
    assert.deepEqual(
      deliveries.map((d) => d.delivery),
      [1, 2, 3],
    );
    assert.ok(deliveries.every((d) => d.reason instanceof TimeLimitExceeded));
    assert.equal(deliveries.at(-1)!.last, true);
    const dl = await deadLetterOf(COOPERATIVE);
    assert.match(dl!.header.get(Headers.deadLetterReason), /^time_limit: soft time limit of 300 ms exceeded on delivery 3 of 3/);
    await waitFor('the consumer drained', () => drained(COOPERATIVE));
  });

  it('gives up a handler that ignores its signal at the hard limit: dead letter, message terminated, no redelivery', async () => {
    const started = Date.now();
    await publisher.publish(STUBBORN.filterSubject, { n: 3 });
    await waitFor('the dead letter', async () => (await deadLetterOf(STUBBORN)) !== undefined);
    const elapsed = Date.now() - started;
    assert.equal(recorder.stubbornFinished, 0, `given up before the handler returned (after ${elapsed} ms)`);
    const dl = await deadLetterOf(STUBBORN);
    assert.match(dl!.header.get(Headers.deadLetterReason), /^time_limit: hard time limit of 900 ms exceeded/);
    await waitFor('the consumer drained', () => drained(STUBBORN));
    // The handler's late return acks nothing, and the message never comes back.
    await waitFor('the late return', () => recorder.stubbornFinished === 1, STUBBORN_MS + 5_000);
    await sleep(500);
    assert.equal(recorder.stubbornStarted, 1);
  });
});

describe('attempt bounds', () => {
  it("follows the provisioned consumer's max_deliver over the declaration", async () => {
    await publisher.publish(BOUNDED.filterSubject, { n: 4 });
    await waitFor('the dead letter', async () => (await deadLetterOf(BOUNDED)) !== undefined);
    assert.deepEqual(recorder.bounded, [
      { delivery: 1, last: false },
      { delivery: 2, last: true },
    ]);
    const dl = await deadLetterOf(BOUNDED);
    assert.match(dl!.header.get(Headers.deadLetterReason), /^max_deliver: LLM_UNAVAILABLE/);
    assert.equal(dl!.header.get(Headers.deadLetterDeliveries), String(BOUNDED_PROVISIONED));
  });
});
