import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, sleep, type Platform } from '../support/platform.js';
import { platformOnPrivateNats, type PrivateNats } from '../support/nats.js';

describe('nats-server restarted in the middle of roadmaps (file storage)', () => {
  let nats: PrivateNats;
  let platform: Platform;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ nats, platform, stop } = await platformOnPrivateNats('nats-restart'));
  });
  after(async () => stop?.());

  it('completes every task, with every item stored once', async () => {
    const goals = ['Become a backend engineer', 'Learn data analysis with Python', 'Become a DevOps engineer'];
    const tasks = [];
    for (const goal of goals) tasks.push((await platform.request('POST', '/api/v1/roadmaps', { goal })).body);
    await eventually(async () => {
      const [row] = await platform.query(`SELECT count(*)::int AS n FROM content_items WHERE status = 'completed'`);
      return row.n >= 10 || undefined;
    }, 30_000, 'content under way');

    await nats.kill();
    await sleep(2_000);
    await nats.restart();

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
