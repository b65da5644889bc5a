import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError, LogBatchSchema, LogEntrySchema, resolveLogEntry, type LogBatch } from '@roadmap/contracts';
import pino from 'pino';
import { ExecutionLogger, INSTANCE, keyedId, type LogEntryPublisher } from './execution-logger.js';
import { registry } from './metrics.js';

class RecordingPublisher implements LogEntryPublisher {
  readonly messages: Array<{ subject: string; payload: LogBatch; msgId?: string }> = [];
  fail = false;
  refuse = false;
  async publishJson(subject: string, json: string, options?: { msgId?: string }) {
    await new Promise((r) => setImmediate(r));
    this.attempts.push({ json, msgId: options?.msgId });
    if (this.fail) throw new Error('NATS is down');
    if (this.refuse) throw new AppError('PAYLOAD_TOO_LARGE', 'message on logs.gateway is too large for its stream', { status: 413 });
    // What the log sink would accept: the message parses and validates as a LogBatch.
    this.messages.push({ subject, payload: LogBatchSchema.parse(JSON.parse(json)), msgId: options?.msgId });
    this.bytes.push(Buffer.byteLength(json));
  }
  readonly bytes: number[] = [];
  readonly attempts: Array<{ json: string; msgId?: string }> = [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `roadmap_execution_logs_dropped_total`, for one reason or all. */
async function droppedTotal(reason?: string): Promise<number> {
  const metric = await registry.getSingleMetric('roadmap_execution_logs_dropped_total')?.get();
  return (metric?.values ?? []).filter((v) => reason === undefined || v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

const silent = pino({ level: 'silent' });

describe(ExecutionLogger.name, () => {
  it('makes entries into one LOGS message for an outbox, their ids from their keys, publishing nothing itself', () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('content-worker', publisher, silent);
    const at = new Date('2026-12-01T10:00:00.000Z');
    const message = sut.message([
      { level: 'info', message: 'quiz generated', context: { taskId: null, step: 'quiz', key: 'item:1:0:completed', at } },
      { level: 'error', message: 'roadmap failed', context: { key: 'task:1:final' } },
    ]);
    assert.equal(message!.subject, 'logs.content-worker');
    const batch = LogBatchSchema.parse(message!.payload);
    assert.deepEqual(batch.entries.map((e) => resolveLogEntry(batch, e).instance), [INSTANCE, INSTANCE]);
    assert.deepEqual(batch.entries.map((e) => e.id), [keyedId('item:1:0:completed'), keyedId('task:1:final')]);
    assert.equal(batch.entries[0]!.ts, at.toISOString());
    assert.equal(sut.message([]), null);
    assert.equal(publisher.attempts.length, 0);
  });

  it('batches entries logged together into few messages, each entry resolving once its message is stored', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('content-worker', publisher, silent, { lingerMs: 5, maxEntries: 100 });
    const results = await Promise.all(Array.from({ length: 250 }, (_, i) => sut.info(`entry ${i}`, { taskId: null, step: 'quiz' })));
    assert.ok(results.every((r) => r === true));
    assert.deepEqual(publisher.messages.map((m) => m.payload.entries.length), [100, 100, 50]);
    assert.ok(publisher.messages.every((m) => m.subject === 'logs.content-worker' && m.msgId));
    // The process's fields travel once per message, and each stored entry gets them.
    assert.ok(publisher.messages.every((m) => m.payload.service === 'content-worker' && m.payload.instance === INSTANCE));
    const stored = resolveLogEntry(publisher.messages[1]!.payload, publisher.messages[1]!.payload.entries[0]!);
    assert.deepEqual([stored.service, stored.instance, stored.message, stored.step], ['content-worker', INSTANCE, 'entry 100', 'quiz']);
    const entries = publisher.messages.flatMap((m) => m.payload.entries);
    assert.deepEqual(entries.map((e) => e.message), Array.from({ length: 250 }, (_, i) => `entry ${i}`), 'in order, none lost');
    assert.equal(new Set(entries.map((e) => e.id)).size, 250);
  });

  it('stamps each entry with the time it was logged', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-11-23T10:00:00.000Z') });
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent);
    const first = sut.info('a');
    const same = sut.info('b');
    t.mock.timers.tick(7);
    const later = sut.info('c');
    await Promise.all([first, same, later]);
    const ts = publisher.messages.flatMap((m) => m.payload.entries.map((e) => e.ts));
    assert.deepEqual(ts, ['2026-11-23T10:00:00.000Z', '2026-11-23T10:00:00.000Z', '2026-11-23T10:00:00.007Z']);
  });

  it('sends a lone entry after the linger', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent, { lingerMs: 5 });
    const started = performance.now();
    assert.equal(await sut.warn('alone', { data: { a: 1 } }), true);
    assert.ok(performance.now() - started >= 4);
    assert.equal(publisher.messages[0]?.payload.entries[0]?.level, 'warn');
  });

  it('sends a lone entry without a linger, and gathers entries logged while every send awaits its ack', async () => {
    const acks: Array<() => void> = [];
    const sizes: number[] = [];
    const publisher: LogEntryPublisher = {
      publishJson: (_subject, json) => {
        sizes.push((JSON.parse(json) as LogBatch).entries.length);
        return new Promise<void>((resolve) => acks.push(resolve));
      },
    };
    const sut = new ExecutionLogger('content-worker', publisher, silent, { maxInFlight: 2 });
    const first = sut.info('first');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sizes, [1], 'sent at the end of the turn it was logged in');
    const second = sut.info('second');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sizes, [1, 1], 'a second send while one is unacknowledged');
    // Both slots busy: these wait, then go together when an ack frees one.
    const waiting = [sut.info('a'), sut.info('b')];
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(sizes, [1, 1]);
    acks[0]!();
    assert.equal(await first, true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sizes, [1, 1, 2]);
    acks[1]!();
    acks[2]!();
    assert.deepEqual(await Promise.all([second, ...waiting]), [true, true, true]);
  });

  it('splits by size so a message stays under the stream limit', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent, { maxBytes: 10_000 });
    await Promise.all(Array.from({ length: 10 }, () => sut.info('x'.repeat(3000))));
    assert.ok(publisher.messages.length >= 4, `${publisher.messages.length} messages`);
    assert.equal(publisher.messages.flatMap((m) => m.payload.entries).length, 10);
    assert.ok(Math.max(...publisher.bytes) <= 10_000, `message sizes ${publisher.bytes.join(', ')} bytes`);
    // Sizes are UTF-8 bytes: 3 bytes per character here.
    const wide = new RecordingPublisher();
    const sutWide = new ExecutionLogger('gateway', wide, silent, { maxBytes: 10_000 });
    await Promise.all(Array.from({ length: 10 }, () => sutWide.info('語'.repeat(1500))));
    assert.equal(wide.messages.flatMap((m) => m.payload.entries).length, 10);
    assert.ok(Math.max(...wide.bytes) <= 10_000, `message sizes ${wide.bytes.join(', ')} bytes`);
  });

  it('keeps what the broker does not take and sends it, in order and under the same message id, once the broker is back', async () => {
    const publisher = new RecordingPublisher();
    publisher.fail = true;
    const sut = new ExecutionLogger('gateway', publisher, silent, { retryDelayMs: 5, maxRetryDelayMs: 20 });
    const dropsBefore = await droppedTotal();
    const first = Promise.all([sut.error('a'), sut.error('b')]);
    await sleep(30); // a few failed sends
    const second = sut.info('c'); // logged during the outage: queued behind the first message
    await sleep(30);
    assert.equal(publisher.messages.length, 0);
    assert.ok(publisher.attempts.length >= 3, `${publisher.attempts.length} attempts`);
    publisher.fail = false;
    assert.deepEqual(await Promise.all([first, second]), [[true, true], true]);
    assert.deepEqual(
      publisher.messages.flatMap((m) => m.payload.entries.map((e) => e.message)),
      ['a', 'b', 'c'],
    );
    const firstIds = new Set(publisher.attempts.filter((a) => a.json.includes('"message":"a"')).map((a) => a.msgId));
    assert.equal(firstIds.size, 1, 'every send of a message carries its one Nats-Msg-Id, so the broker stores it once');
    assert.deepEqual(sut.unsettled, { entries: 0, bytes: 0 });
    assert.equal(await droppedTotal(), dropsBefore);
  });

  it('bounds its memory: past the buffer limit an entry is dropped (counted, kept in the process log), the rest are sent', async () => {
    const publisher = new RecordingPublisher();
    publisher.fail = true;
    const sut = new ExecutionLogger('gateway', publisher, silent, { maxBufferedBytes: 1_000, retryDelayMs: 5, maxRetryDelayMs: 5 });
    const dropsBefore = await droppedTotal('buffer_full');
    const kept = Array.from({ length: 3 }, (_, i) => sut.info(`kept ${i} ${'x'.repeat(100)}`));
    const over = sut.info(`over ${'x'.repeat(1_000)}`);
    assert.equal(await over, false);
    assert.equal(await droppedTotal('buffer_full'), dropsBefore + 1);
    assert.ok(sut.unsettled.bytes <= 1_000, `${sut.unsettled.bytes} bytes held`);
    publisher.fail = false;
    assert.deepEqual(await Promise.all(kept), [true, true, true]);
  });

  it('drops a message the broker refuses for good (counted), without holding up the messages behind it', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent, { retryDelayMs: 5 });
    const dropsBefore = await droppedTotal('refused');
    publisher.refuse = true;
    const refused = sut.info('too large for the stream');
    await sleep(10);
    publisher.refuse = false;
    assert.deepEqual(await Promise.all([refused, sut.info('next')]), [false, true]);
    assert.equal(await droppedTotal('refused'), dropsBefore + 1);
    assert.deepEqual(publisher.messages.flatMap((m) => m.payload.entries.map((e) => e.message)), ['next']);
  });

  it('drain() stores what is buffered before the connection closes; past its time it drops the rest and says so', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent, { lingerMs: 60_000 });
    const entry = sut.info('logged just before SIGTERM');
    assert.equal(await sut.drain(1_000), true);
    assert.equal(await entry, true, 'sent at once, not after the linger');

    const down = new RecordingPublisher();
    down.fail = true;
    const stopping = new ExecutionLogger('gateway', down, silent, { retryDelayMs: 5 });
    const dropsBefore = await droppedTotal('shutdown');
    const lost = stopping.info('the broker never came back');
    const started = performance.now();
    assert.equal(await stopping.drain(100), false);
    assert.ok(performance.now() - started < 1_000, 'bounded by its timeout');
    assert.equal(await lost, false);
    assert.equal(await droppedTotal('shutdown'), dropsBefore + 1);
  });

  it('never throws for data JSON cannot hold: that entry resolves false, the others are sent', async () => {
    const publisher = new RecordingPublisher();
    const sut = new ExecutionLogger('gateway', publisher, silent);
    const dropsBefore = await droppedTotal('unserialisable');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const results = await Promise.all([sut.info('before'), sut.info('cyclic', { data: cyclic }), sut.info('big', { data: { n: 10n } }), sut.info('after')]);
    assert.deepEqual(results, [true, false, false, true]);
    assert.equal(await droppedTotal('unserialisable'), dropsBefore + 2, 'counted as dropped');
    assert.deepEqual(publisher.messages.flatMap((m) => m.payload.entries.map((e) => e.message)), ['before', 'after']);
  });
});

describe('keyed entries', () => {
  it('give the same event logged twice the same valid id, and different events different ids', async () => {
    const publisher = new RecordingPublisher();
    const logger = new ExecutionLogger('test', publisher, silent, { lingerMs: 0 });
    const at = new Date('2026-11-23T10:00:00.000Z');
    await logger.info('quiz generated', { taskId: null, key: 'item:1:quiz:0', at });
    await logger.info('quiz generated', { taskId: null, key: 'item:1:quiz:0', at });
    await logger.info('quiz generated', { taskId: null, key: 'item:1:quiz:1', at });
    const entries = publisher.messages.flatMap((m) => m.payload.entries.map((e) => resolveLogEntry(m.payload, e)));
    assert.equal(entries.length, 3);
    assert.equal(entries[0]!.id, entries[1]!.id);
    assert.equal(entries[0]!.ts, entries[1]!.ts, 'the same time too, so the partitioned table sees one key');
    assert.notEqual(entries[0]!.id, entries[2]!.id);
    for (const entry of entries) assert.ok(LogEntrySchema.safeParse(entry).success, `valid entry: ${JSON.stringify(entry)}`);
    assert.equal(keyedId('x'), keyedId('x'));
    assert.match(keyedId('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
