/*
 * Bulk retry of failed items (issue 20): a roadmap whose one content item failed (the fake OpenAI
 * server refuses that call once) ends `failed` with ITEMS_FAILED; `POST admin/tasks/bulk` with
 * `retry-failed-items` selected by that error code regenerates just the failed item through the
 * per-item retry, and the task completes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { eventually, Platform } from '../support/platform.js';

describe('admin bulk retry of failed items', () => {
  let platform: Platform;
  let fake: FakeOpenAi;
  const apiKey = 'sk-e2e-bulk-retry-0123456789';
  const admin = (method: string, path: string, body?: unknown) => platform.request(method, `/api/v1/admin${path}`, body, {}, { as: 'ops', role: 'admin' });

  before(async () => {
    fake = await startFakeOpenAi({ apiKey });
    platform = await Platform.start({ env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake', LLM_MAX_RETRIES: '0' } });
  });
  after(async () => {
    await platform?.stop();
    await fake?.close();
  });

  it('regenerates only the failed items of the tasks it matches, and they complete', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn technical writing', review: 'required' });
    await platform.waitForTask(accepted.taskId, ['awaiting_review']);
    fake.fail({ status: 400, message: 'refused once' }); // the first content call
    assert.equal((await platform.request('POST', `/api/v1/roadmaps/${accepted.roadmapId}/review`, { decision: 'approve' })).status, 202);
    const failed = await platform.waitForTask(accepted.taskId, ['failed'], 60_000);
    assert.deepEqual([failed.error.code, failed.progress.failed], ['ITEMS_FAILED', 1]);

    const dry = await admin('POST', '/tasks/bulk', { action: 'retry-failed-items', filter: { errorCode: 'ITEMS_FAILED' }, dryRun: true });
    assert.deepEqual([dry.status, dry.body.matched, dry.body.sample], [200, 1, [accepted.taskId]], dry.text);
    const before = fake.completionRequests.length;
    const run = await admin('POST', '/tasks/bulk', { action: 'retry-failed-items', filter: { errorCode: 'ITEMS_FAILED' } });
    assert.equal(run.status, 202, run.text);
    const job = await eventually(async () => {
      const { body } = await admin('GET', `/jobs/${run.body.jobId}`);
      return body.status !== 'running' ? body : undefined;
    }, 30_000, 'the job to finish');
    assert.deepEqual([job.status, job.done, job.failed], ['completed', 1, 0], JSON.stringify(job));
    const done = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.deepEqual([done.progress.done, done.progress.failed], [done.progress.total, 0]);
    assert.equal(fake.completionRequests.length - before, 1, 'only the failed item was generated again');
  });
});
