import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, freePort, Platform, sleep } from '../support/platform.js';
import { startPrivateNats } from '../support/nats.js';

describe('nats-server restarted in the middle of roadmaps (file storage)', () => {
  let nats: ChildProcess;
  let platform: Platform;
  let port: number;
  const storeDir = mkdtempSync(join(tmpdir(), 'nats-restart-'));

  before(async () => {
    port = await freePort();
    nats = await startPrivateNats(port, storeDir);
    platform = await Platform.start({
      natsUrl: `nats://127.0.0.1:${port}`,
      env: { OFFLINE_LLM_LATENCY_MS: '150' },
      serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } },
      ackWaitMs: 5_000,
    });
  });
  after(async () => {
    await platform?.stop({ skipStreams: true });
    nats?.kill('SIGKILL');
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('completes every task, with every item stored once', async () => {
    const goals = ['Become a backend engineer', 'Learn data analysis with Python', 'Become a DevOps engineer'];
    const tasks = [];
    for (const goal of goals) tasks.push((await platform.request('POST', '/api/v1/roadmaps', { goal })).body);
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE status = 'completed'`);
      return row.n >= 10 || undefined;
    }, 30_000, 'content under way');

    const stopped = new Promise((resolve) => nats.once('exit', resolve));
    nats.kill('SIGKILL');
    await stopped;
    await sleep(2_000);
    nats = await startPrivateNats(port, storeDir);

    for (const task of tasks) {
      const done = await platform.waitForTask(task.taskId, ['completed'], 120_000);
      assert.equal(done.progress.done, done.progress.total);
    }
    const [{ items, concepts }] = await platform.query(
      `SELECT (SELECT count(*)::int FROM content_items) AS items, (SELECT count(*)::int FROM concepts) AS concepts`,
    );
    assert.equal(items, concepts * 3, 'one item per concept and kind, none twice');
    console.log(`nats restart: tasks expected ${tasks.length}, completed ${tasks.length}; items expected ${concepts * 3}, found ${items}`);
  });
});
