import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAi, type FakeOpenAi } from '@roadmap/testing';
import { eventually, Platform } from '../support/platform.js';

/*
 * Fencing. A workflow worker frozen (SIGSTOP) in the middle of an LLM call stops heartbeating; after
 * the ack wait its message goes to another worker, which starts a newer run (lease 2). When the frozen
 * worker wakes up (SIGCONT) and its call returns, its late writes must be refused: it stops without
 * writing, failing or acking, and makes no further LLM calls.
 */
describe('a workflow worker frozen mid-step and woken after its message moved on', () => {
  let fake: FakeOpenAi;
  let platform: Platform;
  const apiKey = 'sk-e2e-fencing-0123456789';

  before(async () => {
    fake = await startFakeOpenAi({ apiKey, latencyMs: 1_500 });
    platform = await Platform.start({
      env: { LLM_PROVIDER: 'openai', LLM_BASE_URL: fake.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake' },
      replicas: { 'workflow-worker': 1, 'content-worker': 1 },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '32' } },
      ackWaitMs: 2_000,
      // A frozen process keeps its pull requests open: the server may hand it a redelivery or two
      // before the other worker gets one. Enough deliveries that the other worker does.
      maxAttempts: { workflow: 10 },
    });
  });
  after(async () => {
    for (const p of platform?.processes ?? []) if (p.child.exitCode === null) p.child.kill('SIGCONT');
    await platform?.stop();
    await fake?.close();
  });

  it('refuses the stale run’s writes; one run completes the task', async () => {
    const calls = (name: string) => fake.completionRequests.filter((r) => (r.body as any).response_format?.json_schema?.name === name).length;
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a data engineer', review: 'skip' });
    const taskId: string = accepted.taskId;

    // The first run is inside its curriculum design call: freeze it there.
    await eventually(async () => calls('curriculum_design') === 1, 30_000, 'the first curriculum design call');
    const frozen = platform.processes.find((p) => p.service === 'workflow-worker')!;
    frozen.child.kill('SIGSTOP');

    const newer = await platform.spawn('workflow-worker');
    await platform.waitReady(newer);
    // The newer run redoes curriculum design (the frozen run never checkpointed it) and writes it.
    await eventually(
      async () => (await platform.query(`SELECT 1 FROM workflow_checkpoints WHERE task_id = $1 AND step = 'curriculum_design'`, [taskId])).length === 1,
      60_000,
      'the newer run’s curriculum design checkpoint',
    ).catch((error) => {
      throw new Error(`${error.message}\n${newer.output.slice(-20).join('\n')}`);
    });
    const [{ attempts }] = await platform.query(`SELECT attempts FROM tasks WHERE id = $1`, [taskId]);
    assert.equal(attempts, 2, 'the newer run holds lease 2');

    frozen.child.kill('SIGCONT');
    // The woken worker may hold the stale delivery, or — when the server had handed it a second
    // delivery while it was frozen — the newest run: either way exactly one run is fenced and stops.
    const workers = () => platform.processes.filter((p) => p.service === 'workflow-worker');
    await eventually(
      async () => workers().some((w) => w.output.some((line) => line.includes('run superseded by a newer delivery'))),
      30_000,
      'a stale run to be fenced',
    );

    const task = await platform.waitForTask(taskId, ['completed'], 120_000);
    assert.equal(task.status, 'completed');
    const checkpoints = await platform.query(`SELECT step FROM workflow_checkpoints WHERE task_id = $1 ORDER BY sequence`, [taskId]);
    assert.deepEqual(
      checkpoints.map((c) => c.step).filter((s) => s !== 'edit' && s !== 'validation'),
      ['intent_analysis', 'curriculum_design', 'fan_out'],
    );
    const revisions = await platform.query(`SELECT revision, source FROM roadmap_revisions r JOIN roadmaps m ON m.id = r.roadmap_id WHERE m.task_id = $1`, [taskId]);
    assert.equal(revisions.filter((r) => r.source === 'design').length, 1, 'one designed revision: the fenced run wrote none');
    const failedLogs = await platform.query(`SELECT message FROM execution_logs WHERE task_id = $1 AND level = 'error'`, [taskId]);
    assert.deepEqual(failedLogs, [], 'the fenced run failed nothing');
    assert.equal(calls('intent_analysis'), 1, 'intent analysis, checkpointed before the freeze, was never repeated');
    const fenced = workers().flatMap((w) => w.output.filter((line) => line.includes('run superseded by a newer delivery')));
    const items = await platform.query(`SELECT count(*)::int AS n FROM content_items i JOIN roadmaps r ON r.id = i.roadmap_id WHERE r.task_id = $1 AND i.status = 'completed'`, [taskId]);
    assert.equal(items[0].n, task.progress.total);
    console.log(
      `fencing: ${fenced.length} stale run(s) refused; task completed with ${items[0].n}/${task.progress.total} items; framework calls: curriculum design ${calls('curriculum_design')}, validation ${calls('validation')}`,
    );
  });
});
