/*
 * Bulk actions by filter end to end (issue 20): a dry run counts and samples, a real run is a job
 * (an admin.bulk task in the workflow worker) with progress that goes through the single-task cancel
 * and resume, a repeated request returns the same job, a filter matching nothing is refused; dead
 * letters are replayed or discarded in bulk. The workflow worker runs only high priority (the
 * operator's bulk tasks): its normal and low consumers are paused, so the roadmaps stay queued until
 * the bulk actions move them. No content worker runs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { Headers } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

const ADMIN = 'bulk-admin';

describe('admin bulk actions', () => {
  let platform: Platform;
  let messaging: Messaging;
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, `/api/v1/admin${path}`, body, {}, { as: ADMIN, role: 'admin' });
  const owned: Record<string, string[]> = { alice: [], bob: [] };

  async function finished(jobId: string) {
    return eventually(async () => {
      const { body } = await admin('GET', `/jobs/${jobId}`);
      return body.status !== 'running' ? body : undefined;
    }, 60_000, `job ${jobId} to finish`);
  }

  before(async () => {
    platform = await Platform.start({ replicas: { 'workflow-worker': 0, 'content-worker': 0 } });
    for (const priority of ['normal', 'low']) assert.equal((await admin('POST', '/queues/ROADMAP_WORKFLOW/pause', { priority })).status, 200);
    await platform.waitReady(await platform.spawn('workflow-worker'));
    messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-bulk' });
    for (const owner of ['alice', 'bob']) {
      for (let i = 0; i < 12; i++) {
        const res = await platform.request('POST', '/api/v1/roadmaps', { goal: `Goal ${i} of ${owner}` }, {}, { as: owner });
        assert.equal(res.status, 202, res.text);
        owned[owner]!.push(res.body.taskId);
      }
    }
  });
  after(async () => {
    await messaging?.close();
    await platform?.stop();
  });

  it('cancels by filter: dry run first, then a job with progress through the single-task cancel; a repeat returns the same job', async () => {
    const dry = await admin('POST', '/tasks/bulk', { action: 'cancel', filter: { owner: 'alice', status: 'queued' }, dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.deepEqual([dry.body.matched, dry.body.willActOn, dry.body.sample.length], [12, 12, 10]);
    assert.ok(dry.body.sample.every((id: string) => owned.alice!.includes(id)));
    const [{ n: stillQueued }] = await platform.query(`SELECT count(*)::int AS n FROM tasks WHERE status = 'queued'`);
    assert.equal(stillQueued, 24, 'a dry run changes nothing');

    const run = await admin('POST', '/tasks/bulk', { action: 'cancel', filter: { owner: 'alice', status: 'queued' } });
    assert.equal(run.status, 202, run.text);
    assert.equal(run.body.total, 12);
    const again = await admin('POST', '/tasks/bulk', { action: 'cancel', filter: { owner: 'alice', status: 'queued' } });
    assert.deepEqual([again.status, again.body.jobId, again.body.repeated], [202, run.body.jobId, true], 'a retried request is the same job');

    const job = await finished(run.body.jobId);
    assert.deepEqual([job.status, job.done, job.failed, job.skipped], ['completed', 12, 0, 0]);
    for (const id of owned.alice!) {
      const task = (await platform.request('GET', `/api/v1/tasks/${id}`, undefined, {}, { as: 'alice' })).body;
      assert.equal(task.status, 'cancelled');
      assert.ok(task.cancelledAt, 'cancelled like a single cancel');
    }
    const bob = await platform.query(`SELECT DISTINCT status FROM tasks WHERE owner = 'bob'`);
    assert.deepEqual(bob.map((r) => r.status), ['queued'], "another owner's tasks are untouched");
  });

  it('resumes by an explicit id list through the single-task resume', async () => {
    const ids = owned.alice!.slice(0, 3);
    const run = await admin('POST', '/tasks/bulk', { action: 'resume', filter: { ids } });
    assert.equal(run.status, 202, run.text);
    const job = await finished(run.body.jobId);
    assert.equal(job.done, 3);
    const rows = await platform.query(`SELECT status FROM tasks WHERE id = ANY($1::uuid[])`, [ids]);
    assert.deepEqual(rows.map((r) => r.status), ['queued', 'queued', 'queued']);
  });

  it('refuses a filter matching nothing, a bad filter field, and non-admins', async () => {
    const none = await admin('POST', '/tasks/bulk', { action: 'cancel', filter: { owner: 'nobody-at-all' }, dryRun: true });
    assert.deepEqual([none.status, none.body.code, none.body.details?.[0]?.field], [404, 'FILTER_MATCHES_NOTHING', 'filter']);
    const bad = await admin('POST', '/tasks/bulk', { action: 'cancel', filter: { status: 'sleeping' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.details[0].field, /^filter\.status/);
    const action = await admin('POST', '/tasks/bulk', { action: 'explode', filter: {} });
    assert.deepEqual([action.status, action.body.details[0].field], [400, 'action']);
    const user = await platform.request('POST', '/api/v1/admin/tasks/bulk', { action: 'cancel', filter: {} });
    assert.equal(user.status, 403);
  });

  it('searches tasks across owners by goal words, id prefix, owner and status, with a cursor', async () => {
    const words = await admin('GET', '/tasks/search?q=goal%20ALI&limit=5');
    assert.equal(words.status, 200, words.text);
    assert.equal(words.body.items.length, 5);
    assert.ok(words.body.items.every((t: any) => t.owner === 'alice' && /of alice$/.test(t.goal)), 'word prefixes of the goal');
    const rest = await admin('GET', `/tasks/search?q=goal%20ALI&limit=50&cursor=${words.body.nextCursor}`);
    assert.equal(rest.body.items.length, 7, 'the cursor continues after the first page');
    assert.equal(new Set([...words.body.items, ...rest.body.items].map((t: any) => t.id)).size, 12);

    const id = owned.bob![4]!;
    const byId = await admin('GET', `/tasks/search?q=${id.slice(0, 13)}`);
    assert.ok(byId.body.items.some((t: any) => t.id === id), 'an id prefix finds the task');
    const cancelled = await admin('GET', '/tasks/search?owner=alice&status=cancelled');
    assert.equal(cancelled.body.items.length, 9, 'owner and status filters (3 of 12 were resumed)');
    assert.equal((await admin('GET', '/tasks/search?status=sleeping')).status, 400);
    assert.equal((await platform.request('GET', '/api/v1/admin/tasks/search?q=goal')).status, 403);
  });

  it('streams every task’s events to admins, filtered by owner and level', async () => {
    const controller = new AbortController();
    const res = await fetch(`${platform.url}/api/v1/admin/events?owner=bob&level=warn`, { headers: await platform.authHeaders(ADMIN, 'admin'), signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const seen = (async () => {
      while (!/event: task\.cancelled\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    })();
    // One of alice's and one of bob's: only bob's reaches this filtered feed.
    await platform.request('POST', `/api/v1/tasks/${owned.alice![5]}/resume`, undefined, {}, { as: 'alice' });
    await platform.request('POST', `/api/v1/tasks/${owned.alice![5]}/cancel`, undefined, {}, { as: 'alice' });
    await platform.request('POST', `/api/v1/tasks/${owned.bob![0]}/cancel`, undefined, {}, { as: 'bob' });
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(`no event in: ${text}`)), 10_000))]);
    controller.abort();
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.deepEqual(data.map((e) => [e.type, e.taskId, e.owner, e.level]), [['task.cancelled', owned.bob![0], 'bob', 'warn']]);
  });

  it('discards dead letters by stream after a dry run, and replays one by id', async () => {
    // The workflow worker records dead letters.
    for (let i = 0; i < 3; i++) {
      const hdrs = natsHeaders();
      hdrs.set(Headers.deadLetterStream, 'CONTENT_GENERATION');
      hdrs.set(Headers.deadLetterReason, 'max_deliver: LLM_UNAVAILABLE: down');
      hdrs.set(Headers.deadLetterSubject, 'content.generate.normal.quiz');
      await messaging.js.publish(messaging.subject('dlq.CONTENT_GENERATION'), JSON.stringify({ taskId: randomUUID(), n: i }), { headers: hdrs });
    }
    await eventually(async () => (await admin('GET', '/dead-letters?stream=CONTENT_GENERATION')).body.items.length === 3 || undefined, 20_000, 'dead letters recorded');
    const dry = await admin('POST', '/dead-letters/bulk', { action: 'discard', filter: { stream: 'CONTENT_GENERATION', reason: 'max_deliver' }, dryRun: true });
    assert.deepEqual([dry.status, dry.body.matched], [200, 3], dry.text);
    const run = await admin('POST', '/dead-letters/bulk', { action: 'discard', filter: { stream: 'CONTENT_GENERATION', reason: 'max_deliver' } });
    assert.equal(run.status, 202, run.text);
    assert.equal((await finished(run.body.jobId)).done, 3);
    assert.equal((await admin('GET', '/dead-letters?stream=CONTENT_GENERATION')).body.items.length, 0);
    const discarded = (await admin('GET', '/dead-letters?stream=CONTENT_GENERATION&state=discarded')).body.items;
    assert.ok(discarded.every((d: any) => d.discardedBy === ADMIN));

    // Replay by an explicit id list: each goes back to its subject through the single replay.
    const ids = discarded.map((d: any) => d.id);
    const replayDiscarded = await admin('POST', '/dead-letters/bulk', { action: 'replay', filter: { ids }, dryRun: true });
    assert.deepEqual([replayDiscarded.status, replayDiscarded.body.code], [404, 'FILTER_MATCHES_NOTHING'], 'a discarded dead letter is not replayed');
    const hdrs = natsHeaders();
    hdrs.set(Headers.deadLetterStream, 'CONTENT_GENERATION');
    hdrs.set(Headers.deadLetterReason, 'permanent_error: LLM_REJECTED: no');
    hdrs.set(Headers.deadLetterSubject, 'content.generate.low.quiz');
    await messaging.js.publish(messaging.subject('dlq.CONTENT_GENERATION'), JSON.stringify({ taskId: randomUUID() }), { headers: hdrs });
    const open = await eventually(async () => {
      const items = (await admin('GET', '/dead-letters?stream=CONTENT_GENERATION')).body.items;
      return items.length === 1 ? items : undefined;
    }, 20_000, 'the new dead letter recorded');
    const replay = await admin('POST', '/dead-letters/bulk', { action: 'replay', filter: { ids: [open[0].id] } });
    assert.equal(replay.status, 202, replay.text);
    assert.equal((await finished(replay.body.jobId)).done, 1);
    assert.equal((await admin('GET', `/dead-letters/${open[0].id}`)).body.replayCount, 1);
    const content = await messaging.jsm.streams.info(messaging.streamName('CONTENT_GENERATION'), { subjects_filter: messaging.subject('content.generate.low.quiz') });
    assert.equal(content.state.subjects?.[messaging.subject('content.generate.low.quiz')], 1, 'back on its subject');

    const audit = (await admin('GET', '/audit?limit=50')).body.items;
    const actions = audit.map((e: any) => e.action);
    for (const a of ['tasks.bulk', 'dead-letters.bulk', 'tasks.cancel.finished', 'dead-letters.discard.finished', 'dead-letters.replay.finished']) assert.ok(actions.includes(a), `${a} audited`);
  });
});
