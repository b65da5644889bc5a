import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRoadmapClient, followTask, type TaskEvent } from '@roadmap/client';
import { eventually, sleep, type Platform } from '../support/platform.js';
import { platformOnPrivateNats, type PrivateNats } from '../support/nats.js';

/**
 * Events are never lost (issue 19): a task's events are written to the outbox by the transactions
 * that decide them and published by the relay, so a client following a roadmap across a NATS restart
 * reconnects with Last-Event-ID and gets every event once, in order, up to the final one.
 */
describe('an SSE client following a roadmap across a nats-server restart', () => {
  let nats: PrivateNats;
  let platform: Platform;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ nats, platform, stop } = await platformOnPrivateNats('sse-nats-restart'));
  });
  after(async () => stop?.());

  it('gets every event once, in order, ending with task.completed, after reconnecting with Last-Event-ID', async () => {
    const resumedFrom: string[] = [];
    // The client's side of the connection, to drop it as a network would: the gateway's consumer may
    // ride out a short NATS restart on its own, and the client must still come back with Last-Event-ID.
    let dropStream = () => {};
    const client = createRoadmapClient({
      baseUrl: platform.url,
      credential: await platform.token(),
      fetch: async (input, init) => {
        const request = new Request(input as Request, init);
        if (!request.url.endsWith('/events')) return fetch(request);
        const last = request.headers.get('last-event-id');
        if (last) resumedFrom.push(last);
        const connection = new AbortController();
        dropStream = () => connection.abort(new Error('connection dropped'));
        return fetch(request, { signal: AbortSignal.any([request.signal, connection.signal]) });
      },
    });
    const { data, response } = await client.POST('/api/v1/roadmaps', { body: { goal: 'Become a backend engineer' } });
    assert.equal(response.status, 202);
    const taskId = data!.taskId;

    const events: Array<{ id: number; event: TaskEvent }> = [];
    // Never fall back to polling: the test is about the event stream itself.
    const following = followTask(client, taskId, { intervalMs: 500, maxReconnects: 1_000, onEvent: (event, id) => events.push({ id: Number(id), event }) });

    await eventually(async () => events.filter((e) => e.event.type === 'item.completed').length >= 6 || undefined, 60_000, 'content under way');
    await nats.kill();
    dropStream();
    const seenBeforeRestart = events.length;
    await sleep(3_000);
    await nats.restart();

    const { task, via } = await following;
    assert.equal(via, 'events');
    assert.equal(task.status, 'completed');
    assert.ok(resumedFrom.length > 0, 'the client reconnected with Last-Event-ID');
    assert.ok(events.length > seenBeforeRestart, 'events kept coming after the restart');

    const ids = events.map((e) => e.id);
    assert.ok(
      ids.every((id, i) => i === 0 || id > ids[i - 1]!),
      `event ids strictly increase (no repeat, no reorder): ${ids.join(' ')}`,
    );
    assert.equal(events.at(-1)!.event.type, 'task.completed', 'the stream ends with the final event');
    assert.equal(events.filter((e) => e.event.type === 'task.completed').length, 1);

    // Against what the database says happened: every item completed, each announced once.
    const items = await platform.query(
      `SELECT i.concept_id, i.kind FROM content_items i JOIN roadmaps r ON r.id = i.roadmap_id WHERE r.task_id = $1 AND i.status = 'completed'`,
      [taskId],
    );
    const completed = events.flatMap((e) => (e.event.type === 'item.completed' ? [`${e.event.conceptId}:${e.event.kind}`] : []));
    assert.equal(new Set(completed).size, completed.length, 'no item.completed twice');
    assert.deepEqual([...completed].sort(), items.map((i: { concept_id: string; kind: string }) => `${i.concept_id}:${i.kind}`).sort(), 'an item.completed for every completed item');
    assert.equal(task.progress.done, items.length);
    // Each item's progress count is announced once, 1..total in order: no gap.
    const counts = events.flatMap((e) => (e.event.type === 'item.completed' ? [e.event.progress.done] : []));
    assert.deepEqual(counts, Array.from({ length: items.length }, (_, i) => i + 1), 'progress counts 1..n, in order');
    const steps = events.filter((e) => e.event.type === 'step.started').map((e) => (e.event as { step: string }).step);
    assert.deepEqual(steps, [...new Set(steps)], 'each step started once');
    console.log(`sse across nats restart: ${events.length} events, ${seenBeforeRestart} before the restart, reconnected ${resumedFrom.length} time(s)`);
  });
});
