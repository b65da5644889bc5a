import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { Platform } from '../support/platform.js';

describe('the platform on the openai provider (a fake OpenAI-compatible server)', () => {
  let fake: FakeOpenAi;
  let platform: Platform;
  const apiKey = 'sk-e2e-0123456789abcdef';

  before(async () => {
    fake = await startFakeOpenAi({ apiKey });
    platform = await Platform.start({
      env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake-model-1', LLM_MAX_RETRIES: '2' },
      replicas: { 'content-worker': 1 },
    });
  });
  after(async () => {
    await platform?.stop();
    await fake?.close();
  });

  it('generates the whole roadmap through chat completions with strict JSON-schema output', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a frontend developer' });
    const task = await platform.waitForTask(accepted.taskId, ['completed'], 90_000);
    assert.equal(task.progress.done, task.progress.total);

    const requests = fake.completionRequests;
    const names = new Set(requests.map((r) => (r.body as any).response_format?.json_schema?.name));
    for (const name of ['intent_analysis', 'curriculum_design', 'validation', 'tutorial', 'resources', 'quiz']) {
      assert.ok(names.has(name), `a ${name} request`);
    }
    for (const request of requests) {
      const body = request.body as any;
      assert.equal(body.model, 'fake-model-1');
      assert.equal(body.response_format.type, 'json_schema');
      assert.equal(body.response_format.json_schema.strict, true);
      assert.equal(request.headers.authorization, `Bearer ${apiKey}`);
    }
    const items = await platform.query(`SELECT DISTINCT provider, model FROM content_items WHERE roadmap_id = $1`, [accepted.roadmapId]);
    assert.deepEqual(items, [{ provider: 'openai', model: 'fake-model-1' }]);
    // 3 workflow calls + 3 per concept.
    const [{ n: concepts }] = await platform.query(`SELECT count(*)::int AS n FROM concepts WHERE roadmap_id = $1`, [accepted.roadmapId]);
    assert.equal(requests.filter((r) => ['tutorial', 'resources', 'quiz'].includes((r.body as any).response_format.json_schema.name)).length, concepts * 3);
  });

  it('retries a rate-limited or unavailable call and still completes, never logging the key', async () => {
    fake.fail({ status: 429, retryAfterSeconds: 0 }, { status: 503 });
    const { body: ok } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn SQL for analytics' });
    const done = await platform.waitForTask(ok.taskId, ['completed'], 90_000);
    assert.equal(done.status, 'completed');

    // The API key never reaches a log line of any service.
    const output = platform.processes.flatMap((p) => p.output).join('\n');
    assert.doesNotMatch(output, new RegExp(apiKey));
  });

  it('fails the task with the provider’s reason when the endpoint refuses a call (a 4xx is not retried)', async () => {
    const before = fake.completionRequests.length;
    fake.fail({ status: 400, message: 'model does not support this request' });
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Learn Rust systems programming' });
    const task = await platform.waitForTask(accepted.taskId, ['failed'], 30_000);
    assert.equal(task.error.code, 'LLM_REJECTED');
    assert.equal(fake.completionRequests.length - before, 1, 'one request: a refusal is not retried');
  });
});
