import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Messaging } from '@roadmap/messaging';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { E2E_OWNER, eventually, Platform, TEST_NATS_URL } from '../support/platform.js';

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 } };

describe('human review, revisions, per-item retry, resume and the task list', () => {
  let platform: Platform;
  let fake: FakeOpenAi;
  const apiKey = 'sk-e2e-controls-0123456789';

  before(async () => {
    fake = await startFakeOpenAi({ apiKey });
    platform = await Platform.start({
      env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake', LLM_MAX_RETRIES: '0' },
      serviceEnv: { gateway: { REVIEW_DEFAULT: 'required' } },
    });
  });
  after(async () => {
    await platform?.stop();
    await fake?.close();
  });

  it('pauses for review, applies a revision with its feedback, keeps every version with a diff, then generates on approval', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    assert.equal(accepted.reviewMode, 'required', 'the default comes from REVIEW_DEFAULT');
    const waiting = await platform.waitForTask(accepted.taskId, ['awaiting_review']);
    assert.equal(waiting.currentStep, 'review');
    const roadmap = (await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`)).body;
    assert.equal(roadmap.status, 'awaiting_review');
    assert.ok(roadmap.title, 'the framework is readable while it waits');
    assert.equal((await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1`, [accepted.roadmapId]))[0].n, 0);

    // Nothing holds a worker slot while it waits: the workflow consumers have nothing unacked.
    const messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: platform.namespace, name: 'e2e-review' });
    try {
      const info = await messaging.jsm.consumers.info(messaging.streamName('ROADMAP_WORKFLOW'), 'workflow-worker-normal');
      assert.equal(info.num_ack_pending, 0);
    } finally {
      await messaging.close();
    }

    const revise = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/review`, { decision: 'revise', feedback: 'Add a module on GraphQL APIs' });
    assert.equal(revise.status, 202, revise.text);
    await eventually(async () => (await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`)).body.revision >= 2 || undefined, 20_000, 'revision 2');
    await platform.waitForTask(accepted.taskId, ['awaiting_review']);

    const { body: revisions } = await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}/revisions`);
    assert.ok(revisions.items.length >= 2);
    const last = revisions.items.at(-1);
    assert.equal(last.source, 'review');
    assert.equal(last.feedback, 'Add a module on GraphQL APIs');
    assert.equal(last.requestedBy, E2E_OWNER);
    assert.ok(last.changes.added.some((c: any) => /graphql/i.test(c.title)), `the edit added what was asked: ${JSON.stringify(last.changes)}`);
    assert.equal(revisions.items[0].source, 'design');

    const twice = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/review`, { decision: 'approve' });
    assert.equal(twice.status, 202);
    const again = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/review`, { decision: 'approve' });
    assert.equal(again.status, 409, 'a roadmap no longer awaiting review');
    assert.equal(again.body.code, 'CONFLICT');

    const done = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.equal(done.progress.done, done.progress.total);
    const final = (await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`)).body;
    assert.ok(final.stages.flatMap((s: any) => s.concepts).some((c: any) => /graphql/i.test(c.title)), 'the approved revision is what was generated');
  });

  it('regenerates chosen items of a concept; 404 for an unknown concept; the task view shows each item', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { ...GOAL, review: 'skip' });
    await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    const roadmap = (await platform.request('GET', `/api/v1/roadmaps/${accepted.roadmapId}`)).body;
    const concept = roadmap.stages[0].concepts[0];
    const before = fake.completionRequests.length;

    const unknown = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/concepts/0190b6f0-0000-7000-8000-000000000000/retry`, { kinds: ['quiz'] });
    assert.equal(unknown.status, 404);
    const badKind = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/concepts/${concept.id}/retry`, { kinds: ['poem'] });
    assert.equal(badKind.status, 400);

    // The regenerations take 1.5 s each at the model, so the second request finds them in progress.
    fake.fail({ hangMs: 1_500 }, { hangMs: 1_500 });
    const retry = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/concepts/${concept.id}/retry`, { kinds: ['tutorial', 'quiz'] });
    assert.equal(retry.status, 202, retry.text);
    assert.deepEqual(retry.body.kinds.sort(), ['quiz', 'tutorial']);
    const busy = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/concepts/${concept.id}/retry`, { kinds: ['quiz'] });
    assert.equal(busy.status, 409, 'an item being generated cannot be retried');
    assert.equal(busy.body.code, 'CONFLICT');

    const done = await platform.waitForTask(accepted.taskId, ['completed'], 30_000);
    assert.equal(done.progress.done, done.progress.total);
    const view = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body;
    const state = view.concepts.find((c: any) => c.id === concept.id);
    assert.deepEqual(state.items, { quiz: 'completed', resources: 'completed', tutorial: 'completed' });
    const items = await platform.query(`SELECT kind, generation, status FROM content_items WHERE concept_id = $1 ORDER BY kind`, [concept.id]);
    assert.deepEqual(
      items.map((i) => [i.kind, i.generation >= 1, i.status]),
      [
        ['quiz', true, 'completed'],
        ['resources', false, 'completed'],
        ['tutorial', true, 'completed'],
      ],
    );
    const regenerated = fake.completionRequests.slice(before).map((r) => (r.body as any).response_format.json_schema.name).sort();
    assert.ok(regenerated.includes('quiz') && regenerated.includes('tutorial') && !regenerated.includes('resources'));
  });

  it('resumes a failed task from its checkpoints; 409 for a completed one', async () => {
    fake.fail({ status: 400, message: 'refused once' });
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Kubernetes operations', review: 'skip' });
    const failed = await platform.waitForTask(accepted.taskId, ['failed'], 30_000);
    assert.equal(failed.error.code, 'LLM_REJECTED');

    const resumed = await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/resume`);
    assert.equal(resumed.status, 202, resumed.text);
    const done = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.equal(done.error, null);
    assert.equal((await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/resume`)).status, 409);
    assert.equal((await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/cancel`)).status, 409, 'a finished task cannot be cancelled');
  });

  it('resumes a task whose content item failed: the failed item is generated again, completed ones are kept', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn technical writing', review: 'required' });
    await platform.waitForTask(accepted.taskId, ['awaiting_review']);
    fake.fail({ status: 400, message: 'refused once' }); // the first content call
    const approve = await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/review`, { decision: 'approve' });
    assert.equal(approve.status, 202);
    const failed = await platform.waitForTask(accepted.taskId, ['failed'], 60_000);
    assert.equal(failed.error.code, 'ITEMS_FAILED');
    assert.equal(failed.progress.failed, 1);
    const before = fake.completionRequests.length;

    assert.equal((await platform.request('POST', `/api/v1/tasks/${accepted.taskId}/resume`)).status, 202);
    const done = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.deepEqual([done.progress.done, done.progress.failed], [done.progress.total, 0]);
    assert.equal(fake.completionRequests.length - before, 1, 'only the failed item was generated again');
  });

  it('lists tasks newest first with filters and a cursor', async () => {
    const all = (await platform.request('GET', '/api/v1/tasks?limit=200')).body.items;
    assert.ok(all.length >= 3);
    const page1 = await platform.request('GET', '/api/v1/tasks?limit=2');
    assert.equal(page1.body.items.length, 2);
    const page2 = await platform.request('GET', `/api/v1/tasks?limit=2&cursor=${page1.body.nextCursor}`);
    assert.deepEqual([...page1.body.items, ...page2.body.items].map((t: any) => t.id), all.slice(0, 4).map((t: any) => t.id));
    assert.ok(all.every((t: any, i: number) => i === 0 || all[i - 1].createdAt >= t.createdAt));
    const completed = (await platform.request('GET', '/api/v1/tasks?status=completed&limit=200')).body.items;
    assert.ok(completed.length >= 1 && completed.every((t: any) => t.status === 'completed'));
    const future = (await platform.request('GET', `/api/v1/tasks?createdAfter=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body;
    assert.deepEqual(future.items, []);
    assert.equal((await platform.request('GET', '/api/v1/tasks?status=bogus')).status, 400);
  });
});
