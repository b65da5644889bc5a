import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ContentKind } from '@roadmap/contracts';
import type { StoredError } from '@roadmap/persistence';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { TaskLifecycle } from '@roadmap/workflow';
import type { DataSource } from 'typeorm';
import { ContentRepository, type ItemContext, type ItemOutcome } from '../src/content/content.repository.js';

type Completed = { content: unknown; provider: string; model: string; promptVersion: string; inputTokens: number; outputTokens: number };

/** The repository's batch statements, one item at a time (as the worker's batchers use them with a batch of one). */
class Repository extends ContentRepository {
  async read(roadmapId: string, conceptId: string, kind: ContentKind): Promise<ItemContext | null> {
    const [context] = await this.readMany([{ roadmapId, conceptId, kind }]);
    return context ?? null;
  }
  async claim(itemId: string, generation: number): Promise<boolean> {
    const [claimed] = await this.claimMany([{ itemId, generation }]);
    return claimed!;
  }
  async complete(roadmapId: string, itemId: string, generation: number, result: Completed): Promise<ItemOutcome> {
    const [outcome] = await this.finishMany(roadmapId, [{ itemId, generation, result: { status: 'completed', ...result } }]);
    return outcome!;
  }
  async fail(roadmapId: string, itemId: string, generation: number, error: StoredError): Promise<ItemOutcome> {
    const [outcome] = await this.finishMany(roadmapId, [{ itemId, generation, result: { status: 'failed', error } }]);
    return outcome!;
  }
}

/** A running task whose roadmap has `items` pending content items. */
async function seedRoadmap(ds: DataSource, items: number) {
  const taskId = randomUUID();
  const roadmapId = randomUUID();
  const conceptId = randomUUID();
  await ds.query(
    `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, progress_total)
     VALUES ($1, 'roadmap.generate', 'running', 'test', 'normal', '{}', 'test', $2)`,
    [taskId, items],
  );
  await ds.query(
    `INSERT INTO roadmaps (id, task_id, owner, goal, preferences, status, items_total) VALUES ($1, $2, 'test', 'goal', '{}', 'generating', $3)`,
    [roadmapId, taskId, items],
  );
  await ds.query(
    `INSERT INTO concepts (id, roadmap_id, slug, stage_slug, stage_title, stage_index, position, title, summary, estimated_hours)
     VALUES ($1, $2, 'c', 's', 'S', 0, 0, 'C', 'c', 1)`,
    [conceptId, roadmapId],
  );
  const kinds = ['tutorial', 'resources', 'quiz'];
  const itemIds: string[] = [];
  for (let i = 0; i < items; i++) {
    const id = randomUUID();
    itemIds.push(id);
    // Several items per concept need distinct kinds; beyond three, extra concepts.
    const concept = i < 3 ? conceptId : randomUUID();
    if (i >= 3) {
      await ds.query(
        `INSERT INTO concepts (id, roadmap_id, slug, stage_slug, stage_title, stage_index, position, title, summary, estimated_hours)
         VALUES ($1, $2, $3, 's', 'S', 0, $4, 'C', 'c', 1)`,
        [concept, roadmapId, `c${i}`, i],
      );
    }
    await ds.query(`INSERT INTO content_items (id, roadmap_id, concept_id, kind, status) VALUES ($1, $2, $3, $4, 'running')`, [
      id,
      roadmapId,
      concept,
      kinds[i % 3],
    ]);
  }
  return { taskId, roadmapId, itemIds };
}

const RESULT = { content: { ok: true }, provider: 'offline', model: 'm', promptVersion: 'tutorial@1', inputTokens: 1, outputTokens: 2 };

describe(ContentRepository.name, () => {
  let db: TestDatabase;
  let sut: Repository;
  let other: Repository;

  before(async () => {
    db = await createTestDatabase('content');
    sut = new Repository(db.dataSource, new TaskLifecycle(db.dataSource));
    // A second pool plays the second worker process.
    const second = await db.connect();
    other = new Repository(second, new TaskLifecycle(second));
  });
  after(async () => {
    await db?.drop();
  });

  it('completes the task exactly once when two workers finish the last two items at the same moment', async () => {
    for (let round = 0; round < 25; round++) {
      const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 2);
      const outcomes = await Promise.all([sut.complete(roadmapId, itemIds[0]!, 0, RESULT), other.complete(roadmapId, itemIds[1]!, 0, RESULT)]);
      assert.equal(outcomes.filter((o) => o.finished === 'completed').length, 1, `round ${round}: exactly one finisher`);
      const [task] = await db.dataSource.query(`SELECT status, progress_done, finished_at FROM tasks WHERE id = $1`, [taskId]);
      assert.equal(task.status, 'completed');
      assert.equal(task.progress_done, 2);
      assert.ok(task.finished_at);
    }
  });

  it('reads an item without changing it, and claims it only for its generation, while it is not final and its task runs, counting each attempt', async () => {
    const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 2);
    await db.dataSource.query(`UPDATE roadmaps SET intent = '{}', framework = '{}' WHERE id = $1`, [roadmapId]);
    await db.dataSource.query(`UPDATE content_items SET status = 'pending' WHERE id = $1`, [itemIds[0]]);
    const [{ concept_id: conceptId, kind }] = await db.dataSource.query(`SELECT concept_id, kind FROM content_items WHERE id = $1`, [itemIds[0]]);
    const attempts = async () => (await db.dataSource.query(`SELECT status, attempts FROM content_items WHERE id = $1`, [itemIds[0]]))[0];

    const read = await sut.read(roadmapId, conceptId, kind);
    assert.deepEqual([read?.itemId, read?.itemStatus, read?.taskStatus], [itemIds[0], 'pending', 'running']);
    assert.deepEqual(await attempts(), { status: 'pending', attempts: 0 }, 'reading changes nothing');

    assert.equal(await sut.claim(itemIds[0]!, 1), false, 'a message of another generation claims nothing');
    assert.deepEqual(await attempts(), { status: 'pending', attempts: 0 });
    assert.equal(await sut.claim(itemIds[0]!, 0), true);
    assert.deepEqual(await attempts(), { status: 'running', attempts: 1 });
    assert.equal(await other.claim(itemIds[0]!, 0), true, 'a redelivery of a running item claims it again');
    assert.deepEqual(await attempts(), { status: 'running', attempts: 2 });

    await sut.complete(roadmapId, itemIds[0]!, 0, RESULT);
    assert.equal(await sut.claim(itemIds[0]!, 0), false, 'a completed item is not claimed');
    assert.equal((await sut.read(roadmapId, conceptId, kind))?.itemStatus, 'completed');
    assert.deepEqual(await attempts(), { status: 'completed', attempts: 2 });

    await db.dataSource.query(`UPDATE tasks SET status = 'cancelled' WHERE id = $1`, [taskId]);
    const [{ concept_id: c2, kind: k2 }] = await db.dataSource.query(`SELECT concept_id, kind FROM content_items WHERE id = $1`, [itemIds[1]]);
    assert.equal(await sut.claim(itemIds[1]!, 0), false, 'nothing is claimed for a task that no longer runs');
    assert.equal((await sut.read(roadmapId, c2, k2))?.taskStatus, 'cancelled');
    assert.equal(await sut.read(roadmapId, randomUUID(), k2), null);
  });

  it('counts a redelivered completion once and never rewrites a finished item', async () => {
    const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 3);
    const first = await sut.complete(roadmapId, itemIds[0]!, 0, RESULT);
    assert.deepEqual({ changed: first.changed, done: first.progress.done }, { changed: true, done: 1 });
    const again = await other.complete(roadmapId, itemIds[0]!, 0, { ...RESULT, content: { ok: false } });
    assert.equal(again.changed, false);
    assert.equal(again.progress.done, 1);
    const [item] = await db.dataSource.query(`SELECT content FROM content_items WHERE id = $1`, [itemIds[0]]);
    assert.deepEqual(item.content, { ok: true });
    const [task] = await db.dataSource.query(`SELECT status, progress_done FROM tasks WHERE id = $1`, [taskId]);
    assert.deepEqual(task, { status: 'running', progress_done: 1 });
  });

  it('ends the task as failed, naming the count, when an item failed for good', async () => {
    const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 2);
    await sut.complete(roadmapId, itemIds[0]!, 0, RESULT);
    const outcome = await sut.fail(roadmapId, itemIds[1]!, 0, { code: 'LLM_BAD_OUTPUT', message: 'bad' });
    assert.equal(outcome.finished, 'failed');
    const [task] = await db.dataSource.query(`SELECT status, error, progress_failed FROM tasks WHERE id = $1`, [taskId]);
    assert.equal(task.status, 'failed');
    assert.equal(task.progress_failed, 1);
    assert.equal(task.error.code, 'ITEMS_FAILED');
    assert.match(task.error.message, /1 of 2/);
  });

  it('writes nothing for a cancelled task or a stale generation', async () => {
    const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 2);
    const stale = await sut.complete(roadmapId, itemIds[0]!, 1, RESULT);
    assert.equal(stale.changed, false, 'a message for generation 1 does not touch generation 0');
    await db.dataSource.query(`UPDATE tasks SET status = 'cancelled' WHERE id = $1`, [taskId]);
    const late = await sut.complete(roadmapId, itemIds[0]!, 0, RESULT);
    assert.equal(late.changed, false);
    const [item] = await db.dataSource.query(`SELECT status, content FROM content_items WHERE id = $1`, [itemIds[0]]);
    assert.deepEqual(item, { status: 'running', content: null });
  });

  it('finishes a batch in one statement: each moved item a step of progress, the last one ending the task', async () => {
    const { taskId, roadmapId, itemIds } = await seedRoadmap(db.dataSource, 5);
    await sut.complete(roadmapId, itemIds[0]!, 0, RESULT);
    const outcomes = await sut.finishMany(roadmapId, [
      { itemId: itemIds[1]!, generation: 0, result: { status: 'completed', ...RESULT } },
      { itemId: itemIds[0]!, generation: 0, result: { status: 'completed', ...RESULT, content: { ok: false } } }, // already final
      { itemId: itemIds[2]!, generation: 0, result: { status: 'failed', error: { code: 'LLM_BAD_OUTPUT', message: 'bad' } } },
      { itemId: itemIds[3]!, generation: 0, result: { status: 'completed', ...RESULT } },
      { itemId: itemIds[3]!, generation: 0, result: { status: 'completed', ...RESULT } }, // the same message twice
      { itemId: itemIds[4]!, generation: 0, result: { status: 'completed', ...RESULT } },
    ]);
    assert.deepEqual(
      outcomes.map((o) => [o.changed, o.progress.done, o.progress.failed, o.finished]),
      [
        [true, 2, 0, null],
        [false, 4, 1, null],
        [true, 2, 1, null],
        [true, 3, 1, null],
        [false, 4, 1, null],
        [true, 4, 1, 'failed'],
      ],
    );
    assert.ok(outcomes[5]!.taskFinishedAt, 'the last moved item carries the task end');
    assert.ok(outcomes.filter((o) => o.changed).every((o) => o.finishedAt instanceof Date));
    const items = await db.dataSource.query(`SELECT id, status, content, error->>'code' AS code FROM content_items WHERE roadmap_id = $1`, [roadmapId]);
    const byId = new Map(items.map((i: { id: string }) => [i.id, i]));
    assert.deepEqual(byId.get(itemIds[0]!), { id: itemIds[0], status: 'completed', content: { ok: true }, code: null }, 'a final item is never rewritten');
    assert.deepEqual(byId.get(itemIds[2]!), { id: itemIds[2], status: 'failed', content: null, code: 'LLM_BAD_OUTPUT' });
    const [task] = await db.dataSource.query(`SELECT status, progress_done, progress_failed FROM tasks WHERE id = $1`, [taskId]);
    assert.deepEqual(task, { status: 'failed', progress_done: 4, progress_failed: 1 });
  });

  it('reads and claims batches in one statement each, answering each message by position', async () => {
    const { roadmapId, itemIds } = await seedRoadmap(db.dataSource, 4);
    await db.dataSource.query(`UPDATE roadmaps SET intent = '{}', framework = '{"title":"Backend"}' WHERE id = $1`, [roadmapId]);
    const items = await db.dataSource.query(`SELECT id, concept_id, kind FROM content_items WHERE roadmap_id = $1`, [roadmapId]);
    const key = (id: string) => {
      const row = items.find((i: { id: string }) => i.id === id);
      return { roadmapId, conceptId: row.concept_id as string, kind: row.kind };
    };
    await sut.complete(roadmapId, itemIds[2]!, 0, RESULT);
    const read = await sut.readMany([key(itemIds[0]!), { ...key(itemIds[1]!), conceptId: randomUUID() }, key(itemIds[2]!), key(itemIds[3]!), key(itemIds[0]!)]);
    assert.deepEqual(
      read.map((c) => c && [c.itemId, c.itemStatus, c.generation, c.roadmapTitle]),
      [[itemIds[0], 'running', 0, 'Backend'], null, [itemIds[2], 'completed', 0, 'Backend'], [itemIds[3], 'running', 0, 'Backend'], [itemIds[0], 'running', 0, 'Backend']],
    );
    const claimed = await sut.claimMany([
      { itemId: itemIds[0]!, generation: 0 },
      { itemId: itemIds[2]!, generation: 0 },
      { itemId: itemIds[3]!, generation: 1 },
      { itemId: itemIds[0]!, generation: 0 },
      { itemId: randomUUID(), generation: 0 },
    ]);
    assert.deepEqual(claimed, [true, false, false, true, false]);
    const attempts = await db.dataSource.query(`SELECT id, attempts FROM content_items WHERE roadmap_id = $1 AND id = ANY($2)`, [roadmapId, [itemIds[0], itemIds[3]]]);
    assert.deepEqual(
      Object.fromEntries(attempts.map((r: { id: string; attempts: number }) => [r.id, r.attempts])),
      { [itemIds[0]!]: 1, [itemIds[3]!]: 0 },
      'the same item twice in a batch is claimed (and counted) once; a claim of another generation counts nothing',
    );
  });
});
