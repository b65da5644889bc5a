import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { eventually, Platform } from '../support/platform.js';

describe('a workflow worker killed with SIGKILL after curriculum design', () => {
  let fake: FakeOpenAi;
  let platform: Platform;
  const apiKey = 'sk-e2e-crash-0123456789';

  before(async () => {
    // Every LLM call takes 400 ms, so the worker can be killed between two steps.
    fake = await startFakeOpenAi({ apiKey, latencyMs: 400 });
    platform = await Platform.start({
      env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake' },
      replicas: { 'workflow-worker': 1, 'content-worker': 1 },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '32' } },
      ackWaitMs: 3_000,
    });
  });
  after(async () => {
    await platform?.stop();
    await fake?.close();
  });

  it('completes on redelivery, and the provider saw intent analysis and curriculum design once each', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a machine learning engineer' });
    await eventually(
      async () => (await platform.query(`SELECT step FROM workflow_checkpoints WHERE task_id = $1`, [accepted.taskId])).some((c) => c.step === 'curriculum_design'),
      30_000,
      'the curriculum design checkpoint',
    );
    const victim = platform.processes.find((p) => p.service === 'workflow-worker')!;
    await platform.kill(victim, 'SIGKILL');
    const replacement = await platform.spawn('workflow-worker');
    await platform.waitReady(replacement);

    const task = await platform.waitForTask(accepted.taskId, ['completed'], 90_000);
    assert.equal(task.status, 'completed');
    assert.ok(task.attempts >= 2, `the task shows its second run (attempts ${task.attempts})`);

    const calls = (name: string) => fake.completionRequests.filter((r) => (r.body as any).response_format?.json_schema?.name === name).length;
    assert.equal(calls('intent_analysis'), 1);
    assert.equal(calls('curriculum_design'), 1);
    const steps = await platform.query(`SELECT step FROM workflow_checkpoints WHERE task_id = $1 ORDER BY sequence`, [accepted.taskId]);
    assert.deepEqual(
      steps.map((s) => s.step).filter((s) => s !== 'edit' && s !== 'validation'),
      ['intent_analysis', 'curriculum_design', 'fan_out'],
    );
  });
});
