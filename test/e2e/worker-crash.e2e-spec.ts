import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

describe('a content worker killed with SIGKILL in the middle of a roadmap', () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start({
      // Slow enough to kill mid-run; a short ack wait so the dead worker's messages come back soon.
      env: { OFFLINE_LLM_LATENCY_MS: '300' },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '2' } },
      ackWaitMs: 3_000,
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('still completes the roadmap, storing every item exactly once', async () => {
    const { body: accepted } = await platform.request('POST', '/api/v1/roadmaps', { goal: 'Become a DevOps engineer' });
    await eventually(async () => {
      const task = (await platform.request('GET', `/api/v1/tasks/${accepted.taskId}`)).body;
      return task.progress.done >= 4 ? task : undefined;
    }, 30_000, 'the first items');
    const victim = platform.processes.find((p) => p.service === 'content-worker' && p.index === 0)!;
    await platform.kill(victim, 'SIGKILL');
    const killedAt = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE roadmap_id = $1 AND status = 'running'`, [
      accepted.roadmapId,
    ]);

    const task = await platform.waitForTask(accepted.taskId, ['completed'], 90_000);
    assert.equal(task.progress.done, task.progress.total);

    const items = await platform.query(`SELECT status, attempts FROM content_items WHERE roadmap_id = $1`, [accepted.roadmapId]);
    const [{ n: concepts }] = await platform.query(`SELECT count(*)::int AS n FROM concepts WHERE roadmap_id = $1`, [accepted.roadmapId]);
    assert.equal(items.length, concepts * 3, 'one row per concept and kind');
    assert.ok(items.every((i) => i.status === 'completed'));
    // The items the killed worker held were generated again by the survivor.
    assert.ok(killedAt[0].n > 0, 'items were in flight when the worker was killed');
    assert.ok(items.some((i) => i.attempts >= 2), 'a redelivered item shows a second attempt');
    console.log(`items: expected ${concepts * 3}, stored ${items.length}; in flight at the kill: ${killedAt[0].n}`);
  });
});
