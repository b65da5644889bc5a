import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ValidationError, type TaskStatus } from '@roadmap/contracts';
import { createLogger } from '@roadmap/observability';
import { parseLastEventId, sseEvent } from './sse.js';
import { isSettled, TaskEventStream, type StoredEvent, type TaskState } from './task-event-stream.js';

const TASK = '01a206f7-f318-7525-9f95-e9f856f4efbd';
const logger = createLogger('test', 'silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An event source the test feeds, ended by the stream's stop(). */
class Feed implements AsyncIterable<StoredEvent> {
  private readonly items: StoredEvent[] = [];
  private wake?: () => void;
  ended = false;

  push(seq: number, event: Record<string, unknown> | string, pending = 0): void {
    this.items.push({ seq, data: typeof event === 'string' ? event : JSON.stringify({ taskId: TASK, at: '2026-01-01T00:00:00Z', ...event }), pending });
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StoredEvent> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** A response that records what was written; `slow` makes it apply back-pressure. */
class Recorder extends Writable {
  text = '';
  constructor(slow = false) {
    super({ highWaterMark: slow ? 1 : 16 * 1024, decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += String(chunk);
    callback();
  }
  /** The events written, parsed back. */
  events(): Array<{ id: number; event: string; data: unknown }> {
    return this.text
      .split('\n\n')
      .filter((block) => block.startsWith('id: '))
      .map((block) => {
        const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
        return { id: Number(fields.id), event: String(fields.event), data: JSON.parse(String(fields.data)) };
      });
  }
}

function setup(options: { status?: TaskStatus; finishedAt?: Date; initiallyPending?: number; keepAliveMs?: number; graceMs?: number; slow?: boolean } = {}) {
  const feed = new Feed();
  const out = new Recorder(options.slow);
  const task: { state: TaskState | null } = { state: { status: options.status ?? 'running', finishedAt: options.finishedAt ?? new Date() } };
  let stops = 0;
  let loads = 0;
  const stream = new TaskEventStream({
    taskId: TASK,
    out,
    events: feed,
    initiallyPending: options.initiallyPending ?? 1,
    stop: async () => {
      stops += 1;
      feed.end();
    },
    loadTask: async () => {
      loads += 1;
      return task.state;
    },
    keepAliveMs: options.keepAliveMs ?? 60_000,
    retryMs: 3_000,
    finalGraceMs: options.graceMs ?? 2_000,
    logger,
  });
  return { feed, out, task, stream, stops: () => stops, loads: () => loads };
}

const progress = (done: number, total: number) => ({ done, failed: 0, total });

describe(TaskEventStream.name, () => {
  it('writes the retry hint, then every event with its sequence as id, its type as event and its JSON as data', async () => {
    const { feed, out, stream } = setup();
    stream.start();
    feed.push(3, { type: 'step.started', step: 'intent_analysis' }, 2);
    feed.push(7, { type: 'step.completed', step: 'intent_analysis' }, 1);
    feed.push(9, '{\n  "type": "item.completed",\n  "progress": {"done": 1, "failed": 0, "total": 1}\n}', 0);
    await sleep(20);
    assert.ok(out.text.startsWith('retry: 3000\n\n'), out.text);
    assert.deepEqual(
      out.events().map((e) => [e.id, e.event]),
      [
        [3, 'step.started'],
        [7, 'step.completed'],
        [9, 'item.completed'],
      ],
    );
    // A multi-line payload is sent as one line of JSON.
    assert.match(out.text, /id: 9\nevent: item.completed\ndata: \{"type":"item.completed","progress":\{"done":1,"failed":0,"total":1\}\}\n\n/);
    assert.equal(stream.eventsSent, 3);
    await stream.end('client');
  });

  it('sends a keep-alive comment every keepAliveMs while idle', async () => {
    const { out, stream } = setup({ keepAliveMs: 25 });
    const started = performance.now();
    stream.start();
    const count = () => out.text.split('\n\n').filter((b) => b === ': keep-alive').length;
    // Polled rather than a fixed sleep: on a loaded machine timers run late, never early.
    while (count() < 2 && performance.now() - started < 5_000) await sleep(10);
    const elapsed = performance.now() - started;
    const comments = count();
    assert.ok(comments >= 2, `${comments} keep-alives in ${Math.round(elapsed)} ms:\n${out.text}`);
    assert.ok(comments <= Math.floor(elapsed / 25) + 1, `no more than one per keepAliveMs (${comments} in ${Math.round(elapsed)} ms)`);
    await stream.end('client');
  });

  it('ends after the final event once caught up and the task is final, and releases the consumer', async () => {
    const { feed, out, task, stream, stops } = setup();
    stream.start();
    feed.push(1, { type: 'content.started', progress: progress(0, 1) }, 1);
    task.state = { status: 'completed', finishedAt: new Date() };
    feed.push(2, { type: 'task.completed', progress: progress(1, 1) }, 0);
    assert.equal(await stream.done, 'final');
    assert.equal(out.writableEnded, true);
    assert.equal(stops(), 1);
    assert.deepEqual(out.events().map((e) => e.event), ['content.started', 'task.completed']);
  });

  it('replays past a final event that is followed by more (a resumed task) and ends at the last one', async () => {
    const { feed, out, task, stream } = setup({ status: 'completed' });
    stream.start();
    feed.push(1, { type: 'task.failed', error: 'x' }, 2);
    feed.push(2, { type: 'task.resumed' }, 1);
    await sleep(20);
    assert.equal(out.writableEnded, false, 'a final event with more pending does not end the stream');
    task.state = { status: 'completed', finishedAt: new Date() };
    feed.push(5, { type: 'task.completed', progress: progress(1, 1) }, 0);
    assert.equal(await stream.done, 'final');
    assert.deepEqual(out.events().map((e) => e.id), [1, 2, 5]);
  });

  it('stays open after a final event while the task row is not final (resumed), and ends once it is', async () => {
    const { feed, out, task, stream, loads } = setup({ status: 'running' });
    stream.start();
    feed.push(4, { type: 'task.failed', error: 'x' }, 0);
    await sleep(50);
    assert.equal(out.writableEnded, false);
    assert.ok(loads() >= 1);
    task.state = { status: 'failed', finishedAt: new Date() };
    // Checked again about a second later.
    assert.equal(await stream.done, 'final');
  });

  it('ends a final task whose final event never reaches the stream once the grace period has passed', async () => {
    const { out, stream } = setup({ status: 'cancelled', finishedAt: new Date(), initiallyPending: 0, graceMs: 60 });
    const started = Date.now();
    stream.start();
    assert.equal(await stream.done, 'final');
    assert.ok(Date.now() - started >= 50, 'waited for the grace period');
    assert.equal(out.events().length, 0);
  });

  it('ends when the client goes away, releasing the consumer once', async () => {
    const { feed, out, stream, stops } = setup();
    stream.start();
    feed.push(1, { type: 'step.started', step: 'validation' }, 0);
    await sleep(10);
    out.destroy();
    assert.equal(await stream.done, 'client');
    await stream.end('shutdown');
    assert.equal(stops(), 1);
  });

  it('skips a stored message that is not a typed JSON event, and goes on', async () => {
    const { feed, out, stream } = setup();
    stream.start();
    feed.push(1, 'not json', 1);
    feed.push(2, { type: 'bad\ntype' }, 1);
    feed.push(3, { type: 'step.started', step: 'edit' }, 0);
    await sleep(20);
    assert.deepEqual(out.events().map((e) => e.id), [3]);
    await stream.end('client');
  });

  it('waits for a slow client instead of buffering (back-pressure)', async () => {
    const { feed, out, stream } = setup({ slow: true });
    stream.start();
    for (let i = 1; i <= 50; i++) feed.push(i, { type: 'item.completed', conceptId: TASK, kind: 'quiz', progress: progress(i, 50) }, 50 - i);
    await sleep(30);
    assert.equal(out.events().length, 50);
    assert.deepEqual(out.events().map((e) => e.id), Array.from({ length: 50 }, (_, i) => i + 1));
    await stream.end('client');
  });
});

describe('isSettled', () => {
  it('is true for a final task past the grace period only', () => {
    const now = Date.now();
    assert.equal(isSettled({ status: 'completed', finishedAt: new Date(now - 5_000) }, 2_000, now), true);
    assert.equal(isSettled({ status: 'completed', finishedAt: new Date(now - 500) }, 2_000, now), false);
    assert.equal(isSettled({ status: 'awaiting_review', finishedAt: new Date(now - 5_000) }, 2_000, now), false);
    assert.equal(isSettled({ status: 'running', finishedAt: new Date(now - 5_000) }, 2_000, now), false);
  });
});

describe('parseLastEventId', () => {
  it('prefers the header, falls back to the query parameter, and is undefined without either', () => {
    assert.equal(parseLastEventId('42', '7'), 42);
    assert.equal(parseLastEventId(undefined, '7'), 7);
    assert.equal(parseLastEventId('', '7'), 7);
    assert.equal(parseLastEventId(undefined, ['1', '9']), 9);
    assert.equal(parseLastEventId(undefined, undefined), undefined);
    assert.equal(parseLastEventId('0', undefined), 0);
  });

  it('rejects anything but a non-negative integer with a 400 naming the field', () => {
    for (const [header, query, field] of [
      ['abc', undefined, 'Last-Event-ID'],
      ['-1', undefined, 'Last-Event-ID'],
      [undefined, '1.5', 'lastEventId'],
      ['99999999999999999', undefined, 'Last-Event-ID'],
    ] as const) {
      assert.throws(
        () => parseLastEventId(header, query),
        (err: unknown) => err instanceof ValidationError && err.status === 400 && err.details[0]?.field === field,
      );
    }
  });
});

describe('sseEvent', () => {
  it('frames every line of the data as its own data field', () => {
    assert.equal(sseEvent(5, 'x', 'a\nb'), 'id: 5\nevent: x\ndata: a\ndata: b\n\n');
  });
});
