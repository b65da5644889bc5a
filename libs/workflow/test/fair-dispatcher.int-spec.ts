/*
 * Fair dispatch against the real PostgreSQL: work held in `dispatch_queue` is released to the outbox
 * by owner windows, weighted round-robin, counted from the rows whose work is alive.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, beforeEach, describe, it } from 'node:test';
import { createLogger } from '@roadmap/observability';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import type { DataSource } from 'typeorm';
import { Dispatch, FairDispatcher, type DispatchLane } from '../src/index.js';

const logger = createLogger('dispatch-int-test', process.env.LOG_LEVEL ?? 'silent');

describe(FairDispatcher.name, () => {
  let db: TestDatabase;
  let ds: DataSource;
  let sut: FairDispatcher;

  beforeEach(async () => {
    await db?.drop();
    db = await createTestDatabase('fair');
    ds = db.dataSource;
    sut = new FairDispatcher(ds, logger, { windows: { workflow: 2, content: 3 }, sweepMs: 0, releaseIntervalMs: 0 });
  });
  after(async () => {
    await db?.drop();
  });

  /** Queued tasks of `owner`, each with its first command held in the workflow lane. */
  async function holdStarts(owner: string, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => randomUUID());
    await ds.transaction(async (em) => {
      await em.query(
        `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version) SELECT id, 'roadmap.generate', 'queued', $2, 'normal', '{}', 'v1' FROM unnest($1::uuid[]) AS id`,
        [ids, owner],
      );
      await Dispatch.hold(
        em,
        'workflow',
        ids.map((id) => ({ subject: 'roadmap.workflow.normal.generate', payload: { taskId: id }, key: `workflow-generate:${id}`, taskId: id, owner, priority: 'normal' as const })),
      );
    });
    return ids;
  }

  /** Owners of the released messages in the order they went into the outbox. */
  const outboxOwners = async (): Promise<string[]> =>
    ((await ds.query(`SELECT t.owner FROM outbox o JOIN tasks t ON t.id = (o.payload->>'taskId')::uuid ORDER BY o.seq`)) as Array<{ owner: string }>).map((r) => r.owner);
  const releasedOf = async (lane: DispatchLane, owner: string) =>
    ((await ds.query(`SELECT count(*)::int AS n FROM dispatch_queue WHERE lane = $1 AND owner = $2 AND released_at IS NOT NULL`, [lane, owner])) as Array<{ n: number }>)[0]!.n;

  it('releases at most a window per owner, the owners taking turns', async () => {
    await holdStarts('a', 6);
    await holdStarts('b', 2);
    assert.equal(await sut.release('workflow', 'normal'), 4);
    assert.deepEqual(await outboxOwners(), ['a', 'b', 'a', 'b']);
    assert.equal(await sut.release('workflow', 'normal'), 0, 'nothing more while the windows are full');
    const [held] = await ds.query(`SELECT count(*)::int AS n FROM dispatch_queue WHERE owner = 'a' AND released_at IS NULL`);
    assert.equal(held.n, 4, "a's other starts wait in PostgreSQL");
  });

  it('gives an owner of weight 3 three turns and three times the window', async () => {
    await ds.query(`INSERT INTO owner_policies (owner, weight) VALUES ('a', 3)`);
    await holdStarts('a', 10);
    await holdStarts('b', 10);
    assert.equal(await sut.release('workflow', 'normal'), 8);
    assert.deepEqual(await outboxOwners(), ['a', 'a', 'a', 'b', 'a', 'a', 'a', 'b']);
  });

  it('makes room when work ends, however it ended, and never releases work that died while held', async () => {
    const ids = await holdStarts('a', 6);
    await sut.release('workflow', 'normal');
    assert.equal(await releasedOf('workflow', 'a'), 2);
    // The first start was cancelled, the second fanned out (its task now waits on its items).
    await ds.query(`UPDATE tasks SET status = 'cancelled' WHERE id = $1`, [ids[0]]);
    await ds.query(`UPDATE tasks SET status = 'running', progress_total = 12 WHERE id = $1`, [ids[1]]);
    // A held start whose task was cancelled meanwhile is passed over.
    await ds.query(`UPDATE tasks SET status = 'cancelled' WHERE id = $1`, [ids[2]]);
    assert.equal(await sut.release('workflow', 'normal'), 2);
    const released = (await ds.query(`SELECT task_id FROM dispatch_queue WHERE released_at IS NOT NULL ORDER BY seq`)) as Array<{ task_id: string }>;
    assert.deepEqual(released.map((r) => r.task_id), [ids[3], ids[4]], 'the ended ones are forgotten, the cancelled held one skipped');
    // A start that is running its design still counts.
    await ds.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [ids[3]]);
    assert.equal(await sut.release('workflow', 'normal'), 0);
  });

  it('counts a content item as in flight only while it is of its generation and not final', async () => {
    const taskId = randomUUID();
    const roadmapId = randomUUID();
    await ds.query(`INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, roadmap_id) VALUES ($1, 'roadmap.generate', 'running', 'a', 'normal', '{}', 'v1', $2)`, [taskId, roadmapId]);
    await ds.query(`INSERT INTO roadmaps (id, task_id, owner, goal, preferences, status) VALUES ($1, $2, 'a', 'g', '{}', 'generating')`, [roadmapId, taskId]);
    const items = Array.from({ length: 5 }, (_, i) => ({ id: randomUUID(), conceptId: randomUUID(), i }));
    for (const item of items) {
      await ds.query(
        `INSERT INTO concepts (id, roadmap_id, slug, stage_slug, stage_title, stage_index, position, title, summary, estimated_hours) VALUES ($1, $2, $3, 's', 'S', 0, $4, 'T', 'S', 1)`,
        [item.conceptId, roadmapId, `c${item.i}`, item.i],
      );
      await ds.query(`INSERT INTO content_items (id, roadmap_id, concept_id, kind, status) VALUES ($1, $2, $3, 'quiz', 'pending')`, [item.id, roadmapId, item.conceptId]);
    }
    await ds.transaction((em) =>
      Dispatch.hold(
        em,
        'content',
        items.map((item) => ({
          subject: 'content.generate.normal.quiz',
          payload: { taskId, roadmapId, conceptId: item.conceptId, kind: 'quiz', priority: 'normal', generation: 0 },
          key: `content-generate:${roadmapId}:${item.conceptId}:quiz:0`,
          taskId,
          owner: 'a',
          priority: 'normal' as const,
        })),
      ),
    );
    assert.equal(await sut.release('content', 'normal'), 3);
    // One completes, one is regenerated (a new generation: the released message is stale), one runs.
    await ds.query(`UPDATE content_items SET status = 'completed' WHERE id = $1`, [items[0]!.id]);
    await ds.query(`UPDATE content_items SET generation = 1 WHERE id = $1`, [items[1]!.id]);
    await ds.query(`UPDATE content_items SET status = 'running' WHERE id = $1`, [items[2]!.id]);
    assert.equal(await sut.release('content', 'normal'), 2);
    assert.equal(await releasedOf('content', 'a'), 3);
  });

  const waitFor = async (what: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  };

  it('releases a lone request at once and the requests of a burst together, no sooner than the interval after the last release', async () => {
    const paced = new FairDispatcher(ds, logger, { windows: { workflow: 0, content: 0 }, sweepMs: 0, releaseIntervalMs: 1_500 });
    try {
      await holdStarts('a', 1);
      paced.request('normal', 'workflow');
      assert.ok(await waitFor(async () => (await releasedOf('workflow', 'a')) === 1, 1_000), 'a lone request is released at once');
      await holdStarts('a', 3);
      for (let i = 0; i < 3; i++) paced.request('normal', 'workflow');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await releasedOf('workflow', 'a'), 1, 'the burst waits for the interval');
      assert.ok(await waitFor(async () => (await releasedOf('workflow', 'a')) === 4, 5_000), 'then one release takes all three');
    } finally {
      await paced.onApplicationShutdown();
    }
  });

  it("retries, never drops, a requested release that finds another process's release holding the lane", async () => {
    const paced = new FairDispatcher(ds, logger, { windows: { workflow: 0, content: 0 }, sweepMs: 0, releaseIntervalMs: 50 });
    const runner = (await db.connect()).createQueryRunner(); // closed by db.drop()
    try {
      await holdStarts('a', 2);
      await runner.startTransaction();
      const schema = (ds.options as { schema?: string }).schema ?? 'public';
      await runner.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`roadmap-dispatch:${schema}:workflow:normal`]);
      paced.request('normal', 'workflow');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await releasedOf('workflow', 'a'), 0, 'nothing released while the lane is held elsewhere');
      await runner.commitTransaction();
      assert.ok(await waitFor(async () => (await releasedOf('workflow', 'a')) === 2, 5_000), 'released once the lane is free');
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
      await paced.onApplicationShutdown();
    }
  });

  it('never fills a window twice when releases race', async () => {
    await holdStarts('a', 20);
    const other = new FairDispatcher(await db.connect(), logger, { windows: { workflow: 2, content: 3 }, sweepMs: 0, releaseIntervalMs: 0 });
    const counts = await Promise.all([sut, other, sut, other].map((d) => d.release('workflow', 'normal')));
    assert.equal(counts.reduce((a, b) => a + b, 0), 2);
    assert.equal(await releasedOf('workflow', 'a'), 2);
  });
});
