import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

describe('SIGTERM to a content worker in the middle of a roadmap', () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start({
      env: { OFFLINE_LLM_LATENCY_MS: '600' },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '3', SHUTDOWN_GRACE_MS: '10000' } },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('lets in-flight items finish, exits cleanly, and no item is generated twice', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a mobile app developer' });
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1 AND status = 'running'`, [
        accepted.roadmapId,
      ]);
      return row.n >= 2;
    }, 30_000, 'items in flight');
    const worker = platform.processes.find((p) => p.service === 'content-worker' && p.index === 0)!;
    const started = Date.now();
    const exit = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
    worker.child.kill('SIGTERM');
    const code = await exit;
    assert.equal(code, 0, `clean exit:\n${worker.output.slice(-10).join('\n')}`);
    assert.ok(Date.now() - started < 10_000, 'within the grace period');

    const task = await platform.waitForTask(accepted.taskId, ['completed'], 60_000);
    assert.equal(task.progress.done, task.progress.total);
    const redone = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1 AND attempts > 1`, [
      accepted.roadmapId,
    ]);
    assert.equal(redone[0].n, 0, 'work in flight at SIGTERM was finished, not handed out again');
  });
});
