import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CONSUMERS, Subjects } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { EventSource } from 'eventsource';
import { E2E_OWNER, eventually, Platform, sleep, TEST_NATS_URL } from '../support/platform.js';

/** Every progress event type (TaskEventSchema): an EventSource dispatches named events to their own listeners only. */
const EVENT_TYPES = [
  'step.started',
  'step.completed',
  'content.started',
  'item.completed',
  'item.failed',
  'item.retrying',
  'item.partial',
  'review.awaiting',
  'review.submitted',
  'task.resumed',
  'task.completed',
  'task.failed',
  'task.cancelled',
];
const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } };

interface Received {
  id: number;
  type: string;
  data: any;
}

/** The credential every client of this file sends (a bearer JWT of the platform's default owner, set in `before`). */
let AUTH: Record<string, string> = {};

/** A standard EventSource client recording the events it gets; optionally resuming after an event id. */
function follow(url: string, lastEventId?: number) {
  const es = new EventSource(url, {
    // The credential goes in a header through the `fetch` option (a browser would use a cookie or a
    // token-bearing polyfill). Last-Event-ID is what a browser sends on its own when it reconnects;
    // the library's own reconnects set it themselves.
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: { ...AUTH, ...(lastEventId === undefined ? {} : { 'Last-Event-ID': String(lastEventId) }), ...init.headers },
      }),
  });
  const events: Received[] = [];
  let notify = () => {};
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (e: MessageEvent) => {
      events.push({ id: Number(e.lastEventId), type: e.type, data: JSON.parse(String(e.data)) });
      notify();
    });
  }
  /** Resolves once `done(events)` holds. */
  const until = (done: (events: Received[]) => boolean, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; got ${events.map((e) => `${e.id}:${e.type}`).join(' ')}`)), timeoutMs);
      notify = () => {
        if (done(events)) {
          clearTimeout(timer);
          resolve();
        }
      };
      notify();
    });
  return { es, events, until };
}

interface SseResponse {
  status: number;
  headers: Headers;
  retry: number | undefined;
  comments: string[];
  events: Received[];
}

/** A plain HTTP client reading the response to its end: proves the server closes the stream. */
async function readToEnd(url: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<SseResponse> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...AUTH, ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const out: SseResponse = { status: res.status, headers: res.headers, retry: undefined, comments: [], events: [] };
  for (const block of text.split('\n\n').filter(Boolean)) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
      else fields[line.slice(0, line.indexOf(':'))] = line.slice(line.indexOf(':') + 1).trimStart();
    }
    if (fields.retry !== undefined) out.retry = Number(fields.retry);
    if (fields.id !== undefined) out.events.push({ id: Number(fields.id), type: fields.event ?? 'message', data: JSON.parse(fields.data ?? 'null') });
  }
  return out;
}

const brief = (events: Received[]) => events.map((e) => ({ id: e.id, type: e.type, data: e.data }));

describe('live task progress over Server-Sent Events (GET /api/v1/tasks/:id/events)', () => {
  let platform: Platform;
  let messaging: Messaging;
  const eventsUrl = (taskId: string) => `${platform.url}/api/v1/tasks/${taskId}/events`;

  /** The task's events as JetStream holds them, read straight from the EVENTS stream. */
  async function storedHistory(taskId: string): Promise<Array<{ id: number; type: string; data: any }>> {
    const consumer = await messaging.js.consumers.get(messaging.streamName('EVENTS'), {
      filter_subjects: messaging.subject(Subjects.taskEvents(taskId)),
    });
    const history: Received[] = [];
    try {
      const pending = (await consumer.info(true)).num_pending;
      if (pending === 0) return history;
      for await (const m of await consumer.fetch({ max_messages: pending, expires: 5_000 })) {
        const data = m.json<any>();
        history.push({ id: m.seq, type: data.type, data });
        if (m.info.pending === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => false);
    }
    return history;
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${platform.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return Number(line?.split(' ').at(-1) ?? NaN);
  }

  /** Consumers the live streams hold on EVENTS: all of its consumers but the declared durables (the webhook fan-out). */
  async function eventsConsumers(): Promise<number> {
    const declared = Object.values(CONSUMERS).filter((c) => c.stream === 'EVENTS').length;
    return (await messaging.jsm.streams.info(messaging.streamName('EVENTS'))).state.consumer_count - declared;
  }

  before(async () => {
    // Simulated LLM latency, and few content slots, so the stream is observed while the roadmap is being generated.
    platform = await Platform.start({ env: { OFFLINE_LLM_LATENCY_MS: '50' }, serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } } });
    AUTH = await platform.authHeaders();
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-sse' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  let completedTask: { id: string; events: Received[] };

  it('streams a roadmap from POST to completion, in order, then the server ends the stream', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    const client = follow(eventsUrl(accepted.taskId));
    const opened = new Promise((resolve) => client.es.addEventListener('open', resolve));
    await client.until((events) => events.some((e) => e.type === 'task.completed'));
    client.es.close();
    await opened;
    const { events } = client;

    // In order, ids increasing, all of this task, ending with task.completed.
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.ok(events.every((e) => e.data.taskId === accepted.taskId && e.data.type === e.type));
    assert.equal(events.at(-1)?.type, 'task.completed');

    // Each workflow step started, then completed.
    for (const step of ['intent_analysis', 'curriculum_design', 'validation', 'fan_out']) {
      const started = events.findIndex((e) => e.type === 'step.started' && e.data.step === step);
      const completed = events.findIndex((e) => e.type === 'step.completed' && e.data.step === step);
      assert.ok(started >= 0 && completed > started, `step ${step}: started at ${started}, completed at ${completed}`);
    }

    // One item.completed per content item; progress.done counts 1..total. Two workers publish after
    // their own commits, so neighbours may swap places in the stream: the values, not their order, are exact.
    const task = await platform.waitForTask(accepted.taskId);
    const total = task.progress.total;
    assert.ok(total >= 24, `total ${total}`);
    const items = events.filter((e) => e.type === 'item.completed');
    assert.equal(items.length, total);
    assert.deepEqual(
      items.map((e) => e.data.progress.done).sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    assert.ok(items.every((e) => e.data.progress.total === total));
    assert.equal(Math.max(...items.map((e) => e.data.progress.done)), total);
    assert.deepEqual(events.at(-1)?.data.progress, { done: total, failed: 0, total });
    // Content items came after the fan-out started them.
    const contentStarted = events.findIndex((e) => e.type === 'content.started');
    assert.ok(contentStarted >= 0 && events.findIndex((e) => e.type === 'item.completed') > contentStarted);

    // A plain client gets the same history, and the server ends the response after task.completed.
    const replay = await readToEnd(eventsUrl(accepted.taskId));
    assert.equal(replay.status, 200);
    assert.match(replay.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(replay.headers.get('cache-control'), 'no-cache');
    assert.equal(replay.headers.get('x-accel-buffering'), 'no');
    assert.equal(replay.headers.get('connection'), 'keep-alive');
    assert.equal(replay.retry, 3000);
    assert.deepEqual(brief(replay.events), brief(events));

    // Exactly what JetStream holds for the task.
    assert.deepEqual(brief(events), await storedHistory(accepted.taskId));
    completedTask = { id: accepted.taskId, events };
  });

  it('resumes after Last-Event-ID: the two sessions together are the whole history, once, in order', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn data analysis with Python' });
    const url = eventsUrl(accepted.taskId);

    // First session: a few events, then the client goes away mid-stream.
    const first = follow(url);
    await first.until((events) => events.some((e) => e.type === 'item.completed'));
    first.es.close();
    const cut = first.events.at(-1)!.id;
    const statusAtCut = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body.status;

    // Second session resumes after the last id it saw (header), a third one with the query parameter.
    const second = follow(url, cut);
    await second.until((events) => events.some((e) => e.type === 'task.completed'));
    second.es.close();
    const byQuery = await readToEnd(`${url}?lastEventId=${cut}`);

    await platform.waitForTask(accepted.taskId);
    const history = await storedHistory(accepted.taskId);
    const union = [...first.events, ...second.events];
    assert.deepEqual(brief(union), history, 'no gap, no duplicate, same order');
    assert.ok(second.events.every((e) => e.id > cut));
    assert.deepEqual(brief(byQuery.events), brief(second.events));
    assert.ok(first.events.length >= 5 && second.events.length >= 5, `${first.events.length} + ${second.events.length}`);
    assert.equal(statusAtCut, 'running', 'the first session was cut while the roadmap was being generated');
    // The whole stream, read at once, is the same.
    assert.deepEqual(brief((await readToEnd(url)).events), history);
  });

  it('tells a client that comes back after the end to stop (204), and a standard EventSource does', async () => {
    const { id, events } = completedTask;
    const lastId = events.at(-1)!.id;
    const res = await eventually(
      async () => {
        const r = await fetch(eventsUrl(id), { headers: { ...AUTH, 'last-event-id': String(lastId) }, signal: AbortSignal.timeout(10_000) });
        await r.text();
        return r.status === 204 ? r : undefined;
      },
      10_000,
      '204 after the final event',
    );
    assert.equal(res.status, 204);

    // An EventSource left alone: history, the server's end, its own reconnect with Last-Event-ID, 204, closed for good.
    const client = follow(eventsUrl(id));
    const closed = new Promise<void>((resolve) =>
      client.es.addEventListener('error', () => {
        if (client.es.readyState === EventSource.CLOSED) resolve();
      }),
    );
    await Promise.race([closed, sleep(15_000).then(() => assert.fail('the EventSource did not stop reconnecting'))]);
    assert.deepEqual(brief(client.events), brief(events), 'the history once, not again after the reconnect');
  });

  it('answers 404 (JSON, NOT_FOUND) for an unknown task and 400 for a malformed id or Last-Event-ID', async () => {
    const unknown = await platform.request('GET', `/api/v1/tasks/${randomUUID()}/events`, undefined, { accept: 'text/event-stream' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(unknown.body.code, 'NOT_FOUND');

    const malformed = await platform.request('GET', '/api/v1/tasks/not-a-uuid/events');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, 'INVALID_ID');

    const badLastId = await platform.request('GET', `/api/v1/tasks/${completedTask.id}/events`, undefined, { 'last-event-id': 'abc' });
    assert.equal(badLastId.status, 400);
    assert.equal(badLastId.body.code, 'VALIDATION_FAILED');
    assert.equal(badLastId.body.details[0].field, 'Last-Event-ID');

    // A standard client treats the 404 as final: no reconnect loop.
    const client = follow(`${platform.url}/api/v1/tasks/${randomUUID()}/events`);
    await new Promise<void>((resolve) => client.es.addEventListener('error', () => resolve()));
    assert.equal(client.es.readyState, EventSource.CLOSED);
  });

  it('holds one consumer per open stream, counts it, releases both when the client leaves or the gateway stops', async () => {
    // A task that is running and publishes nothing: its stream stays open with keep-alives only.
    const idle = randomUUID();
    await platform.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, started_at) VALUES ($1, 'roadmap.generate', 'running', $2, 'normal', '{}', 'e2e', now())`,
      [idle, E2E_OWNER],
    );
    await eventually(async () => (await eventsConsumers()) === 0, 10_000, 'no consumers left by earlier tests');
    assert.equal(await metric('roadmap_gateway_sse_clients'), 0);

    const controller = new AbortController();
    const res = await fetch(eventsUrl(idle), { headers: AUTH, signal: controller.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.equal(first, 'retry: 3000\n\n');
    assert.equal(await metric('roadmap_gateway_sse_clients'), 1);
    assert.equal(await eventsConsumers(), 1);

    controller.abort();
    await eventually(async () => (await metric('roadmap_gateway_sse_clients')) === 0, 10_000, 'the gauge back to 0');
    await eventually(async () => (await eventsConsumers()) === 0, 10_000, 'the consumer deleted');

    // Shutdown ends the open streams, so the gateway drains and exits promptly.
    const open = await fetch(eventsUrl(idle), { headers: AUTH });
    const body = open.body!.getReader();
    await body.read();
    const gateway = platform.processes.find((p) => p.service === 'gateway')!;
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    let ended = false;
    while (!ended) ended = (await body.read()).done;
    assert.ok(Date.now() - started < 2_000, `the stream ended ${Date.now() - started} ms after SIGTERM`);
    assert.equal(await exited, 0);
    await eventually(async () => (await eventsConsumers()) === 0, 10_000, 'the consumer deleted on shutdown');
  });
});
