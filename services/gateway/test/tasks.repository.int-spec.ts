import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@roadmap/observability';
import { CreateRoadmapRequestSchema } from '@roadmap/contracts';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { FairDispatcher, outboxId, TaskLifecycle } from '@roadmap/workflow';
import { TasksRepository, type NewRoadmapTask } from '../src/tasks/tasks.repository.js';

function entry(goal: string, owner = 'alice', key?: string): NewRoadmapTask {
  const request = CreateRoadmapRequestSchema.parse({ goal });
  return {
    ids: { taskId: randomUUID(), roadmapId: randomUUID() },
    owner,
    request,
    reviewMode: 'skip',
    ...(key && { idempotency: { key, requestHash: `hash-of-${goal}`, windowMs: 60_000 } }),
  };
}

describe('TasksRepository.createRoadmapTasks (group commit of roadmap requests)', () => {
  let db: TestDatabase;
  let sut: TasksRepository;

  before(async () => {
    db = await createTestDatabase('admit');
    sut = new TasksRepository(db.dataSource, new TaskLifecycle(db.dataSource));
  });
  after(async () => db?.drop());

  const stored = async (entries: NewRoadmapTask[]) => {
    const ids = entries.map((e) => e.ids.taskId);
    const tasks = await db.dataSource.query(`SELECT id, status, owner, roadmap_id, input->>'goal' AS goal, review_mode FROM tasks WHERE id = ANY($1::uuid[])`, [ids]);
    const roadmaps = await db.dataSource.query(`SELECT id, task_id, goal, status FROM roadmaps WHERE task_id = ANY($1::uuid[])`, [ids]);
    return { tasks, roadmaps };
  };

  it('writes every request of a batch with its roadmap and its start command, committed together', async () => {
    const entries = ['Learn Rust', 'Learn Go', 'Learn SQL'].map((goal) => entry(goal));
    const answers = await sut.createRoadmapTasks(entries);
    assert.deepEqual(answers, entries.map(() => ({ outcome: 'created' })));
    // Held for fair dispatch as alice's work, then released to the outbox (no window here).
    const held = await db.dataSource.query(`SELECT task_id, owner, lane FROM dispatch_queue WHERE released_at IS NULL AND task_id = ANY($1::uuid[])`, [entries.map((e) => e.ids.taskId)]);
    assert.deepEqual(held.map((r: { task_id: string }) => r.task_id).sort(), entries.map((e) => e.ids.taskId).sort(), 'one held start per task');
    assert.ok(held.every((r: { owner: string; lane: string }) => r.owner === 'alice' && r.lane === 'workflow'));
    const dispatcher = new FairDispatcher(db.dataSource, createLogger('admit-test', 'silent'), { windows: { workflow: 0, content: 0 }, sweepMs: 0 });
    assert.equal(await dispatcher.release('workflow', 'normal'), 3);
    const outbox = await db.dataSource.query(`SELECT id, msg_id, task_id, subject, payload FROM outbox WHERE task_id = ANY($1::uuid[])`, [entries.map((e) => e.ids.taskId)]);
    assert.deepEqual(
      outbox.map((r: { task_id: string }) => r.task_id).sort(),
      entries.map((e) => e.ids.taskId).sort(),
      'one message per task',
    );
    for (const row of outbox) {
      assert.equal(row.msg_id, `workflow-generate:${row.task_id}`, "the message's Nats-Msg-Id is its logical key");
      assert.equal(row.id, outboxId(row.msg_id), 'the row id is derived from it');
      const e = entries.find((x) => x.ids.taskId === row.task_id)!;
      assert.equal(row.subject, 'roadmap.workflow.normal.generate');
      assert.deepEqual(row.payload, { taskId: e.ids.taskId, roadmapId: e.ids.roadmapId, type: 'roadmap.generate', command: 'generate' });
    }
    const { tasks, roadmaps } = await stored(entries);
    assert.equal(tasks.length, 3);
    for (const e of entries) {
      const task = tasks.find((t: { id: string }) => t.id === e.ids.taskId);
      assert.deepEqual(task, { id: e.ids.taskId, status: 'queued', owner: 'alice', roadmap_id: e.ids.roadmapId, goal: e.request.goal, review_mode: 'skip' });
      const roadmap = roadmaps.find((r: { task_id: string }) => r.task_id === e.ids.taskId);
      assert.deepEqual(roadmap, { id: e.ids.roadmapId, task_id: e.ids.taskId, goal: e.request.goal, status: 'designing' });
    }
  });

  it('commits nothing of a batch whose transaction failed: no task, roadmap, key or message', async () => {
    const entries = ['Learn Rust', 'Learn Go', 'Learn \u0000 SQL'].map((goal) => entry(goal, 'bob', `k-${goal}-${randomUUID()}`));
    // PostgreSQL refuses a NUL character in text: the last request fails the batch's transaction.
    await assert.rejects(sut.createRoadmapTasks(entries));
    const { tasks, roadmaps } = await stored(entries);
    assert.equal(tasks.length + roadmaps.length, 0);
    const keys = await db.dataSource.query(`SELECT key FROM idempotency_keys WHERE owner = 'bob'`);
    assert.equal(keys.length, 0, 'the keys are free again');
    const [{ n }] = await db.dataSource.query(
      `SELECT (SELECT count(*) FROM outbox WHERE task_id = ANY($1::uuid[])) + (SELECT count(*) FROM dispatch_queue WHERE task_id = ANY($1::uuid[])) AS n`,
      [entries.map((e) => e.ids.taskId)],
    );
    assert.equal(Number(n), 0);
  });

  it('commits nothing of a plain batch (one statement, no transaction) that PostgreSQL refused, and says why', async () => {
    const entries = ['Learn Rust', 'Learn \u0000 Go'].map((goal) => entry(goal, 'erin'));
    // The service takes such a batch again one request at a time when the error is a data error (SQLSTATE class 22).
    await assert.rejects(sut.createRoadmapTasks(entries), (error: { driverError?: { code?: string } }) => /^22/.test(error.driverError?.code ?? ''));
    const { tasks, roadmaps } = await stored(entries);
    assert.equal(tasks.length + roadmaps.length, 0);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM dispatch_queue WHERE task_id = ANY($1::uuid[])`, [entries.map((e) => e.ids.taskId)]);
    assert.equal(n, 0, 'no start held for a task that does not exist');
  });

  it('leaves a task whose id exists alone, with its roadmap and its held start, and admits the others of the batch', async () => {
    const first = entry('Learn Haskell', 'frank');
    await sut.createRoadmapTasks([first]);
    // The same task id again (with another roadmap id), beside a new request.
    const again: NewRoadmapTask = { ...entry('Learn OCaml', 'frank'), ids: { taskId: first.ids.taskId, roadmapId: randomUUID() } };
    const other = entry('Learn Scala', 'frank');
    await sut.createRoadmapTasks([again, other]);
    const { tasks, roadmaps } = await stored([first, other]);
    assert.deepEqual(tasks.map((t: { goal: string }) => t.goal).sort(), ['Learn Haskell', 'Learn Scala']);
    assert.deepEqual(roadmaps.map((r: { id: string }) => r.id).sort(), [first.ids.roadmapId, other.ids.roadmapId].sort(), 'no roadmap for the task that was not inserted');
    const held = await db.dataSource.query(`SELECT task_id, payload->>'roadmapId' AS roadmap_id FROM dispatch_queue WHERE task_id = ANY($1::uuid[])`, [[first.ids.taskId, other.ids.taskId]]);
    assert.equal(held.length, 2, 'one held start per task');
    assert.equal(held.find((h: { task_id: string }) => h.task_id === first.ids.taskId).roadmap_id, first.ids.roadmapId, 'the first start is kept as it was');
  });

  it('hands back a request whose Idempotency-Key is taken, by another request or earlier in the batch', async () => {
    const taken = entry('Learn Elixir', 'carol', 'taken-key');
    await sut.createRoadmapTasks([taken]);
    const entries = [entry('Learn Elixir', 'carol', 'taken-key'), entry('Learn Zig', 'carol', 'new-key'), entry('Learn Zig', 'carol', 'new-key'), entry('Learn Zig', 'dave', 'new-key')];
    const answers = await sut.createRoadmapTasks(entries);
    assert.deepEqual(
      answers.map((a) => a.outcome),
      ['key_taken', 'created', 'key_taken', 'created'],
    );
    const held = await db.dataSource.query(`SELECT task_id FROM dispatch_queue WHERE task_id = ANY($1::uuid[])`, [entries.map((e) => e.ids.taskId)]);
    assert.deepEqual(
      held.map((r: { task_id: string }) => r.task_id).sort(),
      [entries[1]!.ids.taskId, entries[3]!.ids.taskId].sort(),
      'only accepted requests are held for dispatch',
    );
    const { tasks } = await stored(entries);
    assert.deepEqual(tasks.map((t: { id: string }) => t.id).sort(), [entries[1]!.ids.taskId, entries[3]!.ids.taskId].sort());
    // The handed-back request then replays the first task through the single-request path.
    const replay = await sut.createRoadmapTask(entries[0]!.ids, 'carol', entries[0]!.request, 'skip', entries[0]!.idempotency);
    assert.deepEqual({ id: replay.task.id, replayed: replay.replayed }, { id: taken.ids.taskId, replayed: true });
  });
});
