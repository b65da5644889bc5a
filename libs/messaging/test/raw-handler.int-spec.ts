/*
 * Handler options `schema: null` (raw payloads) and `deadLetter: false` (failures are terminated, not
 * dead-lettered), against the real nats-server. Own namespace; test consumers on the EVENTS stream
 * (limits retention), deleted at the end.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { Headers, PermanentError, RetryableError, STREAMS, type ConsumerDeclaration } from '@roadmap/contracts';
import { JetStreamContext, JetStreamHandler, Messaging, MessagingModule } from '@roadmap/messaging';
import { createLogger } from '@roadmap/observability';
import { z } from 'zod';
import { drained as isDrained, startHandlerApp, testConsumer, waitFor, type HandlerApp } from './helpers.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAMESPACE = `rh${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const logger = createLogger('raw-handler-int-test', process.env.LOG_LEVEL ?? 'silent');

const consumer = (name: string) => testConsumer(name, 3);
/** `schema: null, deadLetter: false`: the shape of the dead-letter recorder. */
const RAW = consumer('raw');
/** A parsed payload with `deadLetter: false`: an invalid message is terminated without reaching the handler. */
const STRICT = consumer('strict');
/** `schema: null` with the default `deadLetter`. */
const DEFAULT = consumer('default');

interface Seen {
  bytes: Uint8Array;
  header?: string;
  delivery: number;
  last: boolean;
}

@Injectable()
class Recorder {
  readonly raw: Seen[] = [];
  readonly strict: number[] = [];
}

@Injectable()
class Handlers {
  constructor(@Inject(Recorder) private readonly recorder: Recorder) {}

  @JetStreamHandler({ consumer: RAW, schema: null, deadLetter: false })
  async raw(payload: Uint8Array, ctx: JetStreamContext): Promise<void> {
    this.recorder.raw.push({ bytes: payload, header: ctx.headers['Test-Header'], delivery: ctx.deliveryCount, last: ctx.isLastDelivery });
    const text = Buffer.from(payload).toString('latin1');
    if (text.startsWith('permanent')) throw new PermanentError('INTERNAL', 'cannot record this');
    if (text.startsWith('flaky')) throw new RetryableError('LLM_UNAVAILABLE', 'model away');
  }

  @JetStreamHandler({ consumer: STRICT, schema: z.object({ n: z.number() }), deadLetter: false })
  strict(payload: { n: number }): void {
    this.recorder.strict.push(payload.n);
  }

  @JetStreamHandler({ consumer: DEFAULT, schema: null })
  failing(): void {
    throw new PermanentError('INTERNAL', 'cannot record this');
  }
}

@Module({
  imports: [MessagingModule.forRoot({ servers: NATS_URL, namespace: NAMESPACE, name: 'raw-handler-int-test-app', logger })],
  providers: [Recorder, Handlers],
})
class TestModule {}

let messaging: Messaging;
let app: INestApplication;
let recorder: Recorder;

/** Messages in the (namespaced) dead-letter stream. */
async function deadLetterCount(): Promise<number> {
  return (await messaging.jsm.streams.info(messaging.streamName(STREAMS.DEAD_LETTERS.name))).state.messages;
}

const drained = (decl: ConsumerDeclaration) => isDrained(messaging, decl);

async function publishRaw(decl: ConsumerDeclaration, bytes: Uint8Array, header?: string): Promise<void> {
  const hdrs = natsHeaders();
  if (header) hdrs.set('Test-Header', header);
  await messaging.js.publish(messaging.subject(decl.filterSubject), bytes, { headers: hdrs });
}

let handlers: HandlerApp | undefined;

before(async () => {
  handlers = await startHandlerApp(TestModule, {
    servers: NATS_URL,
    namespace: NAMESPACE,
    name: 'raw-handler-int-test',
    logger,
    consumers: [RAW, STRICT, DEFAULT],
    server: { concurrency: { [RAW.durable]: 2 } },
  });
  ({ messaging, app } = handlers);
  recorder = app.get(Recorder);
});

after(() => handlers?.stop());

describe('@JetStreamHandler({ schema: null })', () => {
  it('hands over any bytes as they are, invalid JSON included, with the headers, and acks them', async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x7b, 0x6e, 0x6f, 0x74, 0x20, 0x4a, 0x53, 0x4f, 0x4e]);
    await publishRaw(RAW, bytes, 'kept');
    await waitFor('the delivery', () => recorder.raw.length === 1);
    await waitFor('the ack', () => drained(RAW));
    assert.deepEqual([...recorder.raw[0]!.bytes], [...bytes]);
    assert.equal(recorder.raw[0]!.header, 'kept');
    assert.equal(await deadLetterCount(), 0);
  });
});

describe('@JetStreamHandler({ deadLetter: false })', () => {
  it('terminates a message that failed permanently: one delivery, and nothing dead-lettered', async () => {
    const before = recorder.raw.length;
    await publishRaw(RAW, new TextEncoder().encode('permanent failure'));
    await waitFor('the delivery', () => recorder.raw.length === before + 1);
    await waitFor('the message settled', () => drained(RAW));
    await sleep(500);
    assert.equal(recorder.raw.length, before + 1, 'not redelivered');
    assert.equal(await deadLetterCount(), 0);
  });

  it('retries a retryable failure up to maxDeliver, then terminates it without a dead letter', async () => {
    const before = recorder.raw.length;
    await publishRaw(RAW, new TextEncoder().encode('flaky'));
    await waitFor('the last delivery', () => recorder.raw.length === before + RAW.maxDeliver, 20_000);
    await waitFor('the message settled', () => drained(RAW));
    const deliveries = recorder.raw.slice(before);
    assert.deepEqual(
      deliveries.map((d) => [d.delivery, d.last]),
      [
        [1, false],
        [2, false],
        [3, true],
      ],
    );
    await sleep(500);
    assert.equal(recorder.raw.length, before + RAW.maxDeliver, 'no delivery past maxDeliver');
    assert.equal(await deadLetterCount(), 0);
  });

  it('terminates an invalid payload of a parsed handler without calling it or dead-lettering it', async () => {
    await publishRaw(STRICT, new TextEncoder().encode('{"n":"one"}'));
    await messaging.js.publish(messaging.subject(STRICT.filterSubject), JSON.stringify({ n: 2 }));
    await waitFor('the valid message', () => recorder.strict.length === 1);
    await waitFor('both settled', () => drained(STRICT));
    assert.deepEqual(recorder.strict, [2]);
    assert.equal(await deadLetterCount(), 0);
  });

  it('is per handler: a raw handler without it still dead-letters its permanent failure, with the bytes', async () => {
    await publishRaw(DEFAULT, new TextEncoder().encode('\u0001 not json'));
    await waitFor('the dead letter', async () => (await deadLetterCount()) === 1);
    const stream = messaging.streamName(STREAMS.DEAD_LETTERS.name);
    const { state } = await messaging.jsm.streams.info(stream);
    const dl = await messaging.jsm.streams.getMessage(stream, { seq: state.last_seq });
    assert.equal(dl!.header.get(Headers.deadLetterSubject), DEFAULT.filterSubject);
    assert.match(dl!.header.get(Headers.deadLetterReason), /^permanent_error: INTERNAL: cannot record this/);
    assert.equal(new TextDecoder().decode(dl!.data), '\u0001 not json');
  });
});
