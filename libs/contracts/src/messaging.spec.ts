import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { LogBatchSchema, resolveLogEntry } from './messaging.js';

const entry = (extra: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  ts: '2026-11-23T10:00:00.000Z',
  level: 'info',
  taskId: null,
  step: null,
  message: 'hello',
  data: { n: 1 },
  ...extra,
});

describe('LogBatchSchema', () => {
  it('takes the process fields from the batch, an entry of its own overriding them', () => {
    const batch = LogBatchSchema.parse({ service: 'content-worker', instance: 'pod-1:7', entries: [entry(), entry({ service: 'gateway', instance: 'pod-2:9' })] });
    const stored = batch.entries.map((e) => resolveLogEntry(batch, e));
    assert.deepEqual(stored.map((e) => [e.service, e.instance]), [['content-worker', 'pod-1:7'], ['gateway', 'pod-2:9']]);
    assert.deepEqual(stored[0]!.data, { n: 1 });
  });

  it('accepts the earlier shape, the process fields on every entry (instance defaulting to empty)', () => {
    const batch = LogBatchSchema.parse({ entries: [entry({ service: 'gateway', instance: 'pod-1:7' }), entry({ service: 'gateway' })] });
    assert.deepEqual(batch.entries.map((e) => resolveLogEntry(batch, e).instance), ['pod-1:7', '']);
  });

  it('names the entry without a service when the batch has none', () => {
    const result = LogBatchSchema.safeParse({ entries: [entry({ service: 'gateway' }), entry()] });
    assert.equal(result.success, false);
    assert.deepEqual(result.error!.issues.map((i) => i.path), [['entries', 1, 'service']]);
  });

  it('rejects data that is not an object, and a bad id, naming the field', () => {
    for (const [bad, path] of [
      [entry({ data: [1, 2] }), ['entries', 0, 'data']],
      [entry({ data: 'text' }), ['entries', 0, 'data']],
      [entry({ id: 'not-a-uuid' }), ['entries', 0, 'id']],
    ] as const) {
      const result = LogBatchSchema.safeParse({ service: 'gateway', entries: [bad] });
      assert.equal(result.success, false, JSON.stringify(bad));
      assert.deepEqual(result.error!.issues[0]!.path, path);
    }
  });
});
