import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RoadmapGenerateType } from '@roadmap/contracts';
import { createLogger } from '@roadmap/observability';
import { insertRoadmaps, pruneScheduleRuns } from '@roadmap/persistence';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { TaskLifecycle, WorkflowRegistry, type WorkflowDefinition } from '@roadmap/workflow';
import type { DataSource } from 'typeorm';
import { ScheduleRunner } from '../src/maintenance/schedule-runner.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The roadmap type's contract and domain rows: what admission needs of a definition (no steps run here). */
const roadmapDefinition = {
  contract: RoadmapGenerateType,
  hasRoadmap: true,
  admit: (em, tasks) =>
    insertRoadmaps(
      em,
      tasks.map((t) => ({ id: t.roadmapId!, taskId: t.id, owner: t.owner, goal: t.input.goal, preferences: t.input.preferences })),
    ),
} as Pick<WorkflowDefinition<{ goal: string; preferences: unknown }, unknown, unknown>, 'contract' | 'hasRoadmap' | 'admit'> as WorkflowDefinition<any, any, any>;

interface RunRow {
  occurrence_at: Date;
  outcome: string;
  task_id: string | null;
  error: { code: string } | null;
  instance: string;
}

describe(ScheduleRunner.name, () => {
  let db: TestDatabase;
  const sources: DataSource[] = [];
  const logger = createLogger('schedules-test', 'silent');
  const registry = new WorkflowRegistry([roadmapDefinition]);

  before(async () => {
    db = await createTestDatabase('scheds');
    sources.push(await db.connect(3), await db.connect(3));
  });
  after(async () => db?.drop());

  const runner = (i: number, graceMs = 60_000) =>
    new ScheduleRunner(sources[i]!, new TaskLifecycle(sources[i]!), registry, logger, { schema: db.schema, pollMs: 20, graceMs, instance: `runner-${i}` });

  async function createSchedule(fields: { cron: string; overlap?: string; catchup?: string; anchorAgo?: string; type?: string; paused?: boolean }): Promise<string> {
    const id = randomUUID();
    await db.dataSource.query(
      `INSERT INTO schedules (id, name, cron, timezone, task_type, input, owner, priority, overlap, catchup, paused, anchor_at, created_by)
       VALUES ($1, $2, $3, 'UTC', $4, $5::jsonb, 'ops', 'low', $6, $7, $8, now() - $9::interval, 'admin')`,
      [
        id,
        `s-${id}`,
        fields.cron,
        fields.type ?? 'roadmap.generate',
        JSON.stringify({ goal: 'Learn the cron format' }),
        fields.overlap ?? 'allow',
        fields.catchup ?? 'none',
        fields.paused ?? false,
        fields.anchorAgo ?? '0 seconds',
      ],
    );
    return id;
  }

  const runs = (scheduleId: string): Promise<RunRow[]> =>
    db.dataSource.query(`SELECT occurrence_at, outcome, task_id::text, error, instance FROM schedule_runs WHERE schedule_id = $1 ORDER BY occurrence_at`, [scheduleId]);

  async function finish(taskId: string) {
    await db.dataSource.transaction((em) => new TaskLifecycle(db.dataSource).act(em, taskId, ['queued'], 'cancelled', 'test: the run ended'));
  }

  it('two runners racing on one database start exactly one task per occurrence', async () => {
    const id = await createSchedule({ cron: '* * * * * *', overlap: 'allow' });
    const runners = [runner(0), runner(1)];
    for (const r of runners) r.start();
    // Beside their polls, both also hammer the same schedule directly, at the same moments.
    for (let i = 0; i < 15; i++) {
      await Promise.all([runners[0]!.runOne(id), runners[1]!.runOne(id), runners[0]!.tick(), runners[1]!.tick()]);
      await sleep(200);
    }
    await Promise.all(runners.map((r) => r.stop()));

    const rows = await runs(id);
    assert.ok(rows.length >= 2, `fired ${rows.length} times in ~3 s`);
    assert.ok(rows.every((r) => r.outcome === 'started' && r.task_id), JSON.stringify(rows));
    const seconds = rows.map((r) => r.occurrence_at.getTime() / 1000);
    assert.ok(seconds.every(Number.isInteger) && new Set(seconds).size === seconds.length, 'one row per whole-second occurrence');
    const tasks = await db.dataSource.query(
      `SELECT t.id::text, t.type, t.owner, t.priority, t.status, t.roadmap_id IS NOT NULL AS has_roadmap, (SELECT count(*)::int FROM roadmaps r WHERE r.task_id = t.id) AS roadmaps,
              (SELECT count(*)::int FROM dispatch_queue q WHERE q.task_id = t.id AND q.msg_id = 'workflow-generate:' || t.id) AS messages
         FROM tasks t WHERE t.input->>'goal' = 'Learn the cron format'`,
    );
    assert.equal(tasks.length, rows.length, 'as many tasks as occurrences: none started twice');
    assert.deepEqual(new Set(tasks.map((t: { id: string }) => t.id)), new Set(rows.map((r) => r.task_id)));
    for (const t of tasks) {
      assert.deepEqual({ ...t, id: undefined }, { id: undefined, type: 'roadmap.generate', owner: 'ops', priority: 'low', status: 'queued', has_roadmap: true, roadmaps: 1, messages: 1 });
    }
    assert.ok(new Set(rows.map((r) => r.instance)).size >= 1);
    await db.dataSource.query(`UPDATE schedules SET paused = true WHERE id = $1`, [id]);
  });

  it('catchup latest runs the latest occurrence missed during downtime once; catchup none drops it', async () => {
    // Yearly, 1 January 00:00 UTC, anchored two years back: two occurrences fell due while "down".
    const latest = await createSchedule({ cron: '0 0 0 1 1 *', catchup: 'latest', anchorAgo: '800 days' });
    const none = await createSchedule({ cron: '0 0 0 1 1 *', catchup: 'none', anchorAgo: '800 days' });
    const r = runner(0);
    await r.tick();
    await r.tick();
    const caught = await runs(latest);
    const year = new Date().getUTCFullYear();
    assert.deepEqual(
      caught.map((x) => [x.occurrence_at.toISOString(), x.outcome]),
      [[`${year}-01-01T00:00:00.000Z`, 'started']],
    );
    assert.deepEqual(await runs(none), [], 'missed beyond the grace and not caught up');
    await db.dataSource.query(`UPDATE schedules SET paused = true WHERE id = ANY($1::uuid[])`, [[latest, none]]);
  });

  it('overlap skip: occurrences are skipped while the previous task is unfinished, then start again', async () => {
    const id = await createSchedule({ cron: '* * * * * *', overlap: 'skip' });
    const r = runner(0);
    r.start();
    await sleep(2_300);
    const first = await runs(id);
    const started = first.filter((x) => x.outcome === 'started');
    assert.equal(started.length, 1, JSON.stringify(first));
    const skipped = first.filter((x) => x.outcome === 'skipped');
    assert.ok(skipped.length >= 1, JSON.stringify(first));
    assert.ok(skipped.every((x) => x.error?.code === 'OVERLAP' && x.task_id === null));
    await finish(started[0]!.task_id!);
    await sleep(1_300);
    await r.stop();
    const later = (await runs(id)).filter((x) => x.outcome === 'started');
    assert.equal(later.length, 2, 'the next occurrence after the task ended starts a new one');
    await db.dataSource.query(`UPDATE schedules SET paused = true WHERE id = $1`, [id]);
  });

  it('overlap queue: one occurrence waits for the previous task and starts when it ends', async () => {
    const id = await createSchedule({ cron: '* * * * * *', overlap: 'queue' });
    const r = runner(1);
    r.start();
    await sleep(3_300);
    let rows = await runs(id);
    assert.deepEqual(
      rows.slice(0, 2).map((x) => x.outcome),
      ['started', 'queued'],
    );
    assert.ok(rows.slice(2).every((x) => x.outcome === 'skipped'), 'at most one waits');
    const queuedAt = rows[1]!.occurrence_at.toISOString();
    await finish(rows[0]!.task_id!);
    await sleep(300);
    await r.stop();
    rows = await runs(id);
    const promoted = rows.find((x) => x.occurrence_at.toISOString() === queuedAt)!;
    assert.equal(promoted.outcome, 'started');
    assert.ok(promoted.task_id && promoted.task_id !== rows[0]!.task_id);
    await db.dataSource.query(`UPDATE schedules SET paused = true WHERE id = $1`, [id]);
  });

  it('records a failed occurrence when the task cannot be admitted, and fires nothing while paused', async () => {
    const unknown = await createSchedule({ cron: '* * * * * *', type: 'report.weekly' });
    const paused = await createSchedule({ cron: '* * * * * *', paused: true });
    const r = runner(0);
    r.start();
    await sleep(1_300);
    await r.stop();
    const failed = await runs(unknown);
    assert.ok(failed.length >= 1);
    assert.ok(failed.every((x) => x.outcome === 'failed' && x.error?.code === 'WORKFLOW_INVALID' && x.task_id === null), JSON.stringify(failed));
    assert.deepEqual(await runs(paused), []);
  });

  it('retention prunes old runs but keeps each schedule’s latest occurrence, so nothing fires again', async () => {
    const id = await createSchedule({ cron: '0 0 0 1 1 *', catchup: 'latest', anchorAgo: '800 days' });
    const r = runner(0);
    await r.tick();
    const year = new Date().getUTCFullYear();
    await db.dataSource.query(
      `INSERT INTO schedule_runs (schedule_id, occurrence_at, fired_at, outcome, instance) VALUES ($1, $2, now() - interval '400 days', 'skipped', 'old')`,
      [id, `${year - 1}-01-01T00:00:00Z`],
    );
    await db.dataSource.query(`UPDATE schedule_runs SET fired_at = now() - interval '90 days' WHERE schedule_id = $1`, [id]);
    assert.equal(await pruneScheduleRuns(db.dataSource, new Date(Date.now() - 30 * 86_400_000)), 1);
    await r.tick();
    assert.deepEqual(
      (await runs(id)).map((x) => x.occurrence_at.toISOString()),
      [`${year}-01-01T00:00:00.000Z`],
      'the latest is kept and not fired again',
    );
  });
});
