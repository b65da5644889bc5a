import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { extractTraceContext, injectTraceContext, tracePublish, traceProcess, traceProcessBatch } from './tracing.js';

/** What the test reads of a finished span (the SDK's ReadableSpan, structurally). */
interface FinishedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly status: SpanStatus;
  readonly parentSpanContext?: SpanContext;
  spanContext(): SpanContext;
}

const finished: FinishedSpan[] = [];
/** The real SDK (W3C propagator, AsyncLocalStorage context), its spans kept in memory. */
const sdk = new NodeSDK({
  serviceName: 'tracing-spec',
  autoDetectResources: false,
  metricReaders: [],
  logRecordProcessors: [],
  spanProcessors: [
    {
      onStart: () => undefined,
      onEnd: (span: FinishedSpan) => void finished.push(span),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
  ],
});

const route = { durable: 'content-worker-normal', logicalSubject: (actual: string) => actual.replace(/^ns1\./, '') };

/** A delivered message as the server sees it: the publisher's headers, subject and delivery info. */
function delivered(headers: MsgHdrs | undefined, sequence = 7, deliveryCount = 2): JsMsg {
  return {
    subject: 'ns1.content.item.generate',
    headers,
    data: new Uint8Array(12),
    info: { stream: 'ns1_CONTENT', streamSequence: sequence, deliveryCount },
  } as unknown as JsMsg;
}

/** Publishes through the PRODUCER span and returns the headers it sent. */
async function published(msgId?: string): Promise<MsgHdrs> {
  const hdrs = natsHeaders();
  if (msgId) hdrs.set('Nats-Msg-Id', msgId);
  await tracePublish('content.item.generate', hdrs, msgId, 12, async () => ({ seq: 1 }));
  return hdrs;
}

describe('messaging trace context', () => {
  before(() => sdk.start());
  after(() => sdk.shutdown());
  beforeEach(() => {
    finished.length = 0;
  });

  it('round-trips the active context through NATS headers as W3C traceparent', () => {
    const span = trace.getTracer('spec').startSpan('request');
    const hdrs = natsHeaders();
    context.with(trace.setSpan(context.active(), span), () => injectTraceContext(hdrs));
    span.end();
    const sent = span.spanContext();
    assert.equal(hdrs.get('traceparent'), `00-${sent.traceId}-${sent.spanId}-01`);

    const received = trace.getSpanContext(extractTraceContext(hdrs));
    assert.equal(received?.traceId, sent.traceId);
    assert.equal(received?.spanId, sent.spanId);
    assert.equal(received?.isRemote, true);
  });

  it('extracts no context from a message without trace headers', () => {
    assert.equal(trace.getSpanContext(extractTraceContext(undefined)), undefined);
    assert.equal(trace.getSpanContext(extractTraceContext(natsHeaders())), undefined);
  });

  it('publishes in a PRODUCER span and processes in a CONSUMER span that is its child', async () => {
    const hdrs = await published('content-generate:r1:c1:quiz');
    let activeInHandler: SpanContext | undefined;
    await traceProcess(route, delivered(hdrs), async () => {
      activeInHandler = trace.getActiveSpan()?.spanContext();
    });

    const producer = finished.find((s) => s.kind === SpanKind.PRODUCER)!;
    const consumer = finished.find((s) => s.kind === SpanKind.CONSUMER)!;
    assert.equal(producer.name, 'send content.item.generate');
    assert.deepEqual(
      { ...producer.attributes },
      {
        'messaging.system': 'nats',
        'messaging.destination.name': 'content.item.generate',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.message.body.size': 12,
        'messaging.message.id': 'content-generate:r1:c1:quiz',
      },
    );
    assert.equal(consumer.name, 'process content.item.generate');
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.deepEqual(
      { ...consumer.attributes },
      {
        'messaging.system': 'nats',
        'messaging.destination.name': 'content.item.generate',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.consumer.group.name': 'content-worker-normal',
        'messaging.message.id': 'content-generate:r1:c1:quiz',
        'messaging.nats.message.delivery_count': 2,
        'messaging.nats.message.stream_sequence': 7,
        'messaging.message.body.size': 12,
      },
    );
    assert.equal(activeInHandler?.spanId, consumer.spanContext().spanId, 'the handler runs with the consumer span active');
  });

  it('names spans by subject template when the subject carries an id, keeping the subject as the destination', async () => {
    const subject = 'events.task.0b5e3a56-8a0e-4f7e-9d55-2f1f6f0c9a11';
    await tracePublish(subject, natsHeaders(), undefined, 2, async () => undefined);
    const [producer] = finished;
    assert.equal(producer!.name, 'send events.task.*');
    assert.equal(producer!.attributes['messaging.destination.name'], subject);
    assert.equal(producer!.attributes['messaging.destination.template'], 'events.task.*');
  });

  it('identifies a message without Nats-Msg-Id by stream and sequence, and starts a new trace without context', async () => {
    await traceProcess(route, delivered(undefined, 42), async () => undefined);
    const [consumer] = finished;
    assert.equal(consumer!.attributes['messaging.message.id'], 'ns1_CONTENT:42');
    assert.equal(consumer!.parentSpanContext, undefined);
  });

  it('marks the consumer span failed and rethrows when the handler fails', async () => {
    const failure = new Error('database gone');
    await assert.rejects(traceProcess(route, delivered(await published()), async () => Promise.reject(failure)), failure);
    const consumer = finished.find((s) => s.kind === SpanKind.CONSUMER)!;
    assert.equal(consumer.status.code, SpanStatusCode.ERROR);
    assert.equal(consumer.status.message, 'database gone');
  });

  it('links every message of a batch instead of choosing one parent', async () => {
    const first = await published('a');
    const second = await published('b');
    const producers = finished.filter((s) => s.kind === SpanKind.PRODUCER).map((s) => s.spanContext().spanId);
    await traceProcessBatch(route, [delivered(first, 1), delivered(second, 2), delivered(undefined, 3)], async () => undefined);

    const batch = finished.find((s) => s.kind === SpanKind.CONSUMER)!;
    assert.equal(batch.name, 'process content.item.generate');
    assert.equal(batch.parentSpanContext, undefined);
    assert.equal(batch.attributes['messaging.batch.message_count'], 3);
    assert.deepEqual(
      batch.links.map((l) => [l.context.spanId, l.attributes?.['messaging.message.id']]),
      [
        [producers[0], 'a'],
        [producers[1], 'b'],
      ],
    );
  });
});
