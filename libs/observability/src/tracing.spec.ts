import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SpanStatusCode, trace, type SpanStatus } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { createLogger } from './logger.js';
import { startTracing, tracingActive, tracingConfigured, withSpan } from './tracing.js';

describe(tracingConfigured.name, () => {
  it('is on only with an OTLP endpoint, and off when the standard switches say so', () => {
    assert.equal(tracingConfigured({}), false);
    assert.equal(tracingConfigured({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), false);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), false);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), false);
  });

  it('starts no SDK without an endpoint', async () => {
    assert.equal(await startTracing('gateway', {}), undefined);
    assert.equal(tracingActive(), false, 'no span data is built without an SDK');
  });
});

describe('trace ids in logs and withSpan', () => {
  const statuses: SpanStatus[] = [];
  const sdk = new NodeSDK({
    autoDetectResources: false,
    metricReaders: [],
    logRecordProcessors: [],
    spanProcessors: [
      {
        onStart: () => undefined,
        onEnd: (span: { status: SpanStatus }) => void statuses.push(span.status),
        forceFlush: async () => undefined,
        shutdown: async () => undefined,
      },
    ],
  });
  before(() => sdk.start());
  after(() => sdk.shutdown());

  it('knows that an SDK is registered', () => {
    assert.equal(tracingActive(), true);
  });

  function capture() {
    const lines: Array<Record<string, any>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    return { lines, stream };
  }

  it('writes trace_id and span_id on lines logged inside a span, and none outside', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('test', 'info', stream).child({ taskId: 't-1' });
    let ids: { traceId: string; spanId: string } | undefined;
    logger.info('before');
    await withSpan('work', {}, async () => {
      ids = trace.getActiveSpan()!.spanContext();
      await new Promise((resolve) => setImmediate(resolve));
      logger.info({ user: { password: 'hunter2' } }, 'inside');
    });
    logger.info('after');

    assert.deepEqual(
      lines.map((l) => [l.msg, l.trace_id, l.span_id, l.taskId]),
      [
        ['before', undefined, undefined, 't-1'],
        ['inside', ids!.traceId, ids!.spanId, 't-1'],
        ['after', undefined, undefined, 't-1'],
      ],
    );
    assert.equal(lines[1]!.user.password, '[redacted]', 'secrets stay redacted');
  });

  it('records a failure on the span and rethrows it', async () => {
    statuses.length = 0;
    await assert.rejects(
      withSpan('fails', {}, () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(statuses, [{ code: SpanStatusCode.ERROR, message: 'boom' }]);
  });
});
