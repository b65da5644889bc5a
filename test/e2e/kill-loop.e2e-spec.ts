import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { executionLogDrops } from '../support/metrics.js';
import { eventually, Platform, sleep, type ServiceProcess } from '../support/platform.js';

/*
 * Workers killed with SIGKILL again and again while roadmaps are generated: every task completes,
 * every content item is stored once, and every item has exactly one "generated" execution-log entry
 * (the entry is written to the outbox with the item's completion, so a kill after the commit cannot
 * lose it, and a redelivery finds the item final and writes nothing again).
 */
const ROADMAPS = 3;
const ROUNDS = 4;

describe('content and workflow workers killed with SIGKILL, round after round', () => {
  let platform: Platform;

  before(async () => {
    platform = await Platform.start({
      env: { OFFLINE_LLM_LATENCY_MS: '250' },
      replicas: { 'workflow-worker': 2, 'content-worker': 2 },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } },
      ackWaitMs: 2_000,
      // Each kill can spend a delivery of every message its victim held: more than the default 3.
      maxAttempts: { workflow: 10, content: 10 },
    });
  });
  after(async () => {
    await platform?.stop();
  });

  it('completes every task with every item and log entry exactly once', async () => {
    const accepted: Array<{ taskId: string; roadmapId: string }> = [];
    for (let i = 0; i < ROADMAPS; i++) {
      const { status, body } = await platform.request('POST', '/api/v1/roadmaps', { goal: `Become a site reliability engineer, track ${i}`, review: 'skip' });
      assert.equal(status, 202);
      accepted.push(body);
    }

    const alive = (service: string) => platform.processes.filter((p) => p.service === service && p.child.exitCode === null && p.child.signalCode === null);
    let kills = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(1_500);
      const victims: ServiceProcess[] = [alive('content-worker')[0]!];
      if (round % 2 === 0) victims.push(alive('workflow-worker')[0]!);
      for (const victim of victims) {
        await platform.kill(victim, 'SIGKILL');
        kills++;
        const replacement = await platform.spawn(victim.service);
        await platform.waitReady(replacement);
      }
    }

    let expectedItems = 0;
    let storedItems = 0;
    let expectedLogs = 0;
    let storedLogs = 0;
    for (const { taskId, roadmapId } of accepted) {
      const task = await platform.waitForTask(taskId, ['completed'], 180_000);
      assert.equal(task.progress.done, task.progress.total);
      const [{ n: concepts }] = await platform.query(`SELECT count(*)::int AS n FROM concepts WHERE roadmap_id = $1`, [roadmapId]);
      const items = await platform.query(`SELECT concept_id, kind, status FROM content_items WHERE roadmap_id = $1`, [roadmapId]);
      assert.equal(items.length, concepts * 3, 'one row per concept and kind');
      assert.ok(items.every((i) => i.status === 'completed'));
      expectedItems += concepts * 3;
      storedItems += items.length;

      // One "generated" entry per item: none missing, none twice.
      const logs = await eventually(
        async () => {
          const rows = await platform.query(
            `SELECT data->>'conceptId' AS concept_id, step AS kind FROM execution_logs WHERE task_id = $1 AND message LIKE '% generated'`,
            [taskId],
          );
          return rows.length >= items.length ? rows : undefined;
        },
        30_000,
        `the "generated" log entries of task ${taskId}`,
      );
      const perItem = new Map<string, number>();
      for (const row of logs) perItem.set(`${row.concept_id}:${row.kind}`, (perItem.get(`${row.concept_id}:${row.kind}`) ?? 0) + 1);
      const twice = [...perItem].filter(([, n]) => n > 1);
      const missing = items.filter((i) => !perItem.has(`${i.concept_id}:${i.kind}`));
      assert.deepEqual(twice, [], 'no item logged twice');
      assert.deepEqual(missing, [], 'no item without its log entry');
      expectedLogs += items.length;
      storedLogs += logs.length;
      const completedEntries = await platform.query(`SELECT count(*)::int AS n FROM execution_logs WHERE task_id = $1 AND message = 'roadmap completed'`, [taskId]);
      assert.equal(completedEntries[0].n, 1, 'the roadmap’s completion is logged once');
    }
    assert.equal(await executionLogDrops(platform), 0, 'no execution-log entry dropped by any process');
    const redone = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE attempts > 1 AND roadmap_id = ANY($1::uuid[])`, [accepted.map((a) => a.roadmapId)]);
    console.log(
      `kill loop: ${kills} SIGKILLs; tasks ${ROADMAPS}/${ROADMAPS} completed; items expected ${expectedItems}, stored ${storedItems}; "generated" log entries expected ${expectedLogs}, stored ${storedLogs}; items redone after a kill: ${redone[0].n}`,
    );
  });
});
