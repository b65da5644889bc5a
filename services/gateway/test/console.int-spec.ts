import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TaskStatus } from '@roadmap/contracts';
import { RoadmapEntity, TaskEntity } from '@roadmap/persistence';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { ConsoleService } from '../src/console/console.service.js';

const NOW = new Date('2026-11-23T08:00:00.000Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

describe(ConsoleService.name, () => {
  let db: TestDatabase;
  let sut: ConsoleService;

  async function task(owner: string, goal: string, status: TaskStatus, createdAt: Date): Promise<string> {
    const id = randomUUID();
    const roadmapId = randomUUID();
    await db.dataSource.getRepository(TaskEntity).insert({
      id,
      type: 'roadmap.generate',
      status,
      owner,
      priority: 'normal',
      input: { goal },
      roadmapId,
      workflowVersion: 'roadmap-workflow@1',
      createdAt,
      updatedAt: createdAt,
    });
    await db.dataSource.getRepository(RoadmapEntity).insert({
      id: roadmapId,
      taskId: id,
      owner,
      goal,
      preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' } as RoadmapEntity['preferences'],
      status: 'designing',
      createdAt,
      updatedAt: createdAt,
    });
    return id;
  }

  before(async () => {
    db = await createTestDatabase('console');
    sut = new ConsoleService(db.dataSource);
  });
  after(async () => db?.drop());

  it('counts the last hour’s tasks by status, overall and per 5-minute bucket, for the caller’s scope', async () => {
    await task('ann', 'Learn SQL', 'completed', minutesAgo(2));
    await task('ann', 'Learn Go', 'failed', minutesAgo(2));
    await task('ann', 'Learn Rust', 'running', minutesAgo(58));
    await task('ann', 'Learn COBOL', 'completed', minutesAgo(61)); // before the window
    await task('bob', 'Learn Lisp', 'completed', minutesAgo(1));

    const ann = await sut.taskStats('ann', 60, NOW);
    assert.equal(ann.total, 3);
    assert.deepEqual(ann.byStatus, { queued: 0, running: 1, awaiting_review: 0, completed: 1, failed: 1, cancelled: 0 });
    assert.equal(ann.buckets.length, 12);
    assert.equal(ann.buckets[0]!.start, minutesAgo(60).toISOString());
    assert.equal(ann.buckets[0]!.byStatus.running, 1, 'the oldest bucket');
    assert.deepEqual([ann.buckets[11]!.byStatus.completed, ann.buckets[11]!.byStatus.failed], [1, 1], 'the newest bucket');
    assert.equal(ann.buckets.slice(1, 11).every((b) => Object.values(b.byStatus).every((n) => n === 0)), true);

    const admin = await sut.taskStats(undefined, 60, NOW);
    assert.equal(admin.total, 4, 'an admin counts every owner');
    assert.equal(admin.byStatus.completed, 2);
  });

  it('lists tasks with their goal, newest first, by status and by search (goal words or an id prefix), page by page', async () => {
    const owner = 'cat';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await task(owner, `Become a 100%_backend engineer ${i}`, i % 2 ? 'failed' : 'completed', minutesAgo(10 - i)));
    await task(owner, 'Learn Haskell', 'completed', minutesAgo(30));

    const first = await sut.listTasks(owner, { limit: 2, q: 'backend' });
    assert.deepEqual(first.items.map((t) => t.goal), ['Become a 100%_backend engineer 4', 'Become a 100%_backend engineer 3']);
    assert.ok(first.nextCursor);
    const second = await sut.listTasks(owner, { limit: 2, q: 'backend', cursor: first.nextCursor });
    const third = await sut.listTasks(owner, { limit: 2, q: 'backend', cursor: second.nextCursor! });
    assert.deepEqual([...first.items, ...second.items, ...third.items].map((t) => t.id), [...ids].reverse());
    assert.equal(third.nextCursor, null);

    assert.equal((await sut.listTasks(owner, { limit: 50, q: '100%_' })).items.length, 5, '% and _ are matched literally');
    assert.equal((await sut.listTasks(owner, { limit: 50, q: '1000%' })).items.length, 0);
    assert.deepEqual((await sut.listTasks(owner, { limit: 50, status: 'failed', q: 'BACKEND' })).items.map((t) => t.status), ['failed', 'failed']);
    assert.deepEqual((await sut.listTasks(owner, { limit: 50, q: ids[2]!.slice(0, 13) })).items.map((t) => t.id), [ids[2]]);
    assert.equal((await sut.listTasks('someone-else', { limit: 50, q: 'backend' })).items.length, 0, 'another owner’s tasks are not found');
    assert.equal((await sut.listTasks(owner, { limit: 50 })).items.length, 6);
    await assert.rejects(sut.listTasks(owner, { limit: 2, cursor: 'not-a-cursor' }), { code: 'VALIDATION_FAILED' });
  });
});
