import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

describe('cancel', () => {
  let platform: Platform;
  let messaging: Messaging;

  before(async () => {
    platform = await Platform.start({
      // Content calls take a minute: whatever is in flight when the task is cancelled must be aborted.
      serviceEnv: { 'content-worker': { OFFLINE_LLM_LATENCY_MS: '60000', WORKER_CONCURRENCY: '2' } },
      replicas: { 'content-worker': 1 },
    });
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-cancel' });
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  const contentConsumer = () => messaging.jsm.consumers.info(messaging.streamName('CONTENT_GENERATION'), 'content-worker-normal');

  it('aborts the LLM calls in flight within 2 seconds, skips the queued work, and writes nothing more', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a data engineer' });
    await eventually(async () => (await contentConsumer()).num_ack_pending >= 2 || undefined, 20_000, 'content calls in flight');
    const before = await contentConsumer();
    // Queued: in the stream, or held in PostgreSQL for the owner's turn (fair dispatch's window).
    const heldRows = async () =>
      (await platform.query(`SELECT count(*)::int AS n FROM dispatch_queue WHERE task_id = $1 AND released_at IS NULL`, [accepted.taskId]))[0].n as number;
    const held = await heldRows();
    assert.ok(before.num_pending + held > 0, 'items are still queued');

    const cancelledAt = Date.now();
    const res = await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/cancel`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'cancelled');
    await eventually(async () => (await contentConsumer()).num_ack_pending === 0 || undefined, 2_000, 'in-flight calls aborted and acked');
    const abortMs = Date.now() - cancelledAt;
    await eventually(async () => (await contentConsumer()).num_pending === 0 || undefined, 20_000, 'queued messages skipped and acked');
    console.log(`cancel: in-flight work released after ${abortMs} ms`);

    const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1 AND status = 'completed'`, [accepted.roadmapId]);
    assert.equal(n, 0, 'no content written after the cancel');
    const task = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body;
    assert.equal(task.status, 'cancelled');
    assert.ok(task.cancelledAt);
    assert.equal((await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`)).body.status, 'cancelled');

    const twice = await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/cancel`);
    assert.equal(twice.status, 200, 'cancelling twice is harmless');
    assert.equal(twice.body.status, 'cancelled');
  });
});

describe('priorities', () => {
  let platform: Platform;

  before(async () => {
    // No workflow worker yet: requests pile up in the stream first.
    platform = await Platform.start({ replicas: { 'workflow-worker': 0, 'content-worker': 0 }, env: { OFFLINE_LLM_LATENCY_MS: '100' } });
    await platform.grantPriorityHigh();
  });
  after(async () => {
    await platform?.stop();
  });

  it('starts a high-priority roadmap before a backlog of normal ones, and low priority is not starved', async () => {
    const normal: string[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await platform.request('POST', '/api/v1/roadmaps', { goal: `Normal goal number ${i}` });
      assert.equal(res.status, 202);
      normal.push(res.body.taskId);
    }
    const high = (await platform.request('POST', '/api/v1/roadmaps', { goal: 'Urgent: learn incident response', priority: 'high' })).body.taskId;
    const low = (await platform.request('POST', '/api/v1/roadmaps', { goal: 'Someday: learn watercolour painting', priority: 'low' })).body.taskId;

    const worker = await platform.spawn('workflow-worker');
    await platform.waitReady(worker);
    const started = async (id: string) => (await platform.query(`SELECT started_at FROM tasks WHERE id = $1`, [id]))[0].started_at as Date | null;
    await eventually(async () => (await started(high)) && (await started(low)), 20_000, 'the high and the low task to start');
    const [{ n }] = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE started_at IS NOT NULL AND id = ANY($1::uuid[])`, [normal]);
    console.log(`priorities: when the high and low tasks had started, ${n} of 300 earlier normal tasks had`);
    assert.ok(n < 30, `the high and low tasks did not wait for the backlog (${n} normal tasks started first)`);
  });
});
