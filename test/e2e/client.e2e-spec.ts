import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRoadmapClient, followTask, type RoadmapClient, type TaskEvent } from '@roadmap/client';
import { sseEventMismatch } from '../support/openapi.js';
import { Platform } from '../support/platform.js';

/*
 * The typed client (libs/client, generated from the OpenAPI document) as a front end uses it: create
 * a roadmap, follow it live, read the result; and the follow helper's resilience (Last-Event-ID
 * after a dropped stream, polling when the stream is unavailable).
 */

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner' as const, hoursPerWeek: 8, language: 'en' }, priority: 'normal' as const, review: 'skip' as const };

describe('@roadmap/client against the platform', () => {
  let platform: Platform;
  let credential: string;

  before(async () => {
    platform = await Platform.start({ env: { OFFLINE_LLM_LATENCY_MS: '20' } });
    credential = await platform.token('client-user');
  });
  after(async () => platform?.stop());

  /** A client whose fetch goes through `intercept` (to drop or refuse the event stream), recording each request. */
  function client(intercept?: (request: Request) => Promise<Response> | undefined) {
    const requests: Request[] = [];
    const sut = createRoadmapClient({
      baseUrl: platform.url,
      credential,
      fetch: async (input, init) => {
        const request = new Request(input as Request, init);
        requests.push(request);
        return (await intercept?.(request)) ?? fetch(request);
      },
    });
    return { sut, requests };
  }

  async function create(sut: RoadmapClient): Promise<string> {
    const { data, error, response } = await sut.POST('/api/v1/roadmaps', { body: GOAL });
    assert.equal(response.status, 202, JSON.stringify(error));
    return data!.taskId;
  }

  it('creates a roadmap, follows it live to its final event and reads the result', async () => {
    const { sut } = client();
    const taskId = await create(sut);
    const events: TaskEvent[] = [];
    const { task, via } = await followTask(sut, taskId, { onEvent: (e) => events.push(e) });
    assert.equal(via, 'events');
    assert.equal(task.status, 'completed');
    assert.equal(events.at(-1)?.type, 'task.completed');
    for (const event of events) assert.equal(sseEventMismatch(event.type, JSON.stringify(event)), null);
    assert.ok(events.some((e) => e.type === 'item.completed'));

    const { data: roadmap } = await sut.GET('/api/v1/roadmaps/{id}', { params: { path: { id: task.roadmapId! } } });
    assert.equal(roadmap?.status, 'completed');
    const concepts = roadmap!.stages.flatMap((s) => s.concepts);
    assert.ok(concepts.length > 0);
    assert.ok(concepts.every((c) => c.content.tutorial.status === 'completed' && c.content.tutorial.content));
  });

  it('resumes with Last-Event-ID after the stream drops, losing and repeating nothing', async () => {
    let dropped = false;
    const { sut, requests } = client((request) => {
      if (dropped || !request.url.endsWith('/events')) return undefined;
      dropped = true;
      // The first connection ends after its first event, as a proxy cutting it would.
      return fetch(request).then(async (res) => {
        const text = await res.text();
        const first = text.slice(0, text.indexOf('\n\n', text.indexOf('id:')) + 2);
        return new Response(first, { status: 200, headers: res.headers });
      });
    });
    const taskId = await create(sut);
    const types: string[] = [];
    const { task, via } = await followTask(sut, taskId, { intervalMs: 50, onEvent: (e) => types.push(e.type) });
    assert.equal(via, 'events');
    assert.equal(task.status, 'completed');
    const streams = requests.filter((r) => r.url.endsWith('/events'));
    assert.ok(streams.length >= 2, 'reconnected');
    const resumedAfter = streams[1]!.headers.get('last-event-id');
    assert.match(resumedAfter ?? '', /^\d+$/);
    // Every event once: what the server has for the task, in order, equals what the client saw.
    const all: TaskEvent[] = [];
    await followTask(client().sut, taskId, { onEvent: (e) => all.push(e) });
    assert.deepEqual(types, all.map((e) => e.type));
  });

  it('falls back to polling GET /tasks/{id} when the event stream is unavailable', async () => {
    const { sut, requests } = client((request) =>
      request.url.endsWith('/events') ? Promise.resolve(new Response('bad gateway', { status: 502 })) : undefined,
    );
    const taskId = await create(sut);
    const polled: string[] = [];
    const { task, via } = await followTask(sut, taskId, { intervalMs: 50, maxReconnects: 2, onPoll: (t) => polled.push(t.status) });
    assert.equal(via, 'polling');
    assert.equal(task.status, 'completed');
    assert.equal(requests.filter((r) => r.url.endsWith('/events')).length, 2);
    assert.equal(polled.at(-1), 'completed');
  });

  it('returns the API error typed, and a follow of an unknown task fails at once', async () => {
    const { sut } = client();
    const unknown = randomUUID();
    const { error, response } = await sut.GET('/api/v1/tasks/{id}', { params: { path: { id: unknown } } });
    assert.equal(response.status, 404);
    assert.equal(error?.code, 'NOT_FOUND');
    await assert.rejects(followTask(sut, unknown, { intervalMs: 10 }), /404/);
    const bad = await sut.POST('/api/v1/roadmaps', { body: { ...GOAL, goal: 'x' } });
    assert.equal(bad.response.status, 400);
    assert.equal(bad.error?.details?.[0]?.path, 'goal');
  });
});
