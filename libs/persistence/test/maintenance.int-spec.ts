import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  createDataSource,
  dataSourceOptions,
  dropExpiredLogPartitions,
  ensureLogPartitions,
  listLogPartitions,
  logPartitionName,
  migrate,
  MIGRATIONS,
  pruneDeadLetters,
  pruneFinishedCheckpoints,
  pruneIdempotencyKeys,
  sql,
  utcDayStart,
} from '@roadmap/persistence';
import { createTestDatabase, TEST_DATABASE_URL } from '@roadmap/testing';
import { DataSource } from 'typeorm';

const DAY = 24 * 3600 * 1000;
const daysFromNow = (days: number) => new Date(Date.now() + days * DAY);

/** Inserts execution-log rows the way the log sink does (unnest, ON CONFLICT DO NOTHING). */
async function insertLogs(ds: DataSource, rows: Array<{ id?: string; at: Date; message: string }>): Promise<number> {
  const { count } = await sql(
    ds,
    `INSERT INTO execution_logs (id, created_at, task_id, service, instance, level, step, message, data)
     SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.id ?? randomUUID()),
      rows.map((r) => r.at.toISOString()),
      rows.map(() => null),
      rows.map(() => 'test'),
      rows.map(() => 'test:1'),
      rows.map(() => 'info'),
      rows.map(() => null),
      rows.map((r) => r.message),
      rows.map(() => null),
    ],
  );
  return count;
}

const messages = async (ds: DataSource) =>
  ((await ds.query(`SELECT message FROM execution_logs ORDER BY message`)) as Array<{ message: string }>).map((r) => r.message);
const tableExists = async (ds: DataSource, name: string) =>
  ((await ds.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [name])) as Array<{ found: boolean }>)[0]!.found;

describe('execution_logs partitioning migration', () => {
  const schema = `mnt_${randomBytes(5).toString('hex')}`;
  const config = { url: TEST_DATABASE_URL, schema, poolSize: 3, applicationName: `test-${schema}` };
  let ds: DataSource | undefined;
  after(async () => {
    await ds?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await ds?.destroy();
  });

  it('converts the existing table keeping its rows, and down() converts it back, rows and all', async () => {
    const mine = MIGRATIONS.findIndex((m) => m.name === 'Maintenance1764900000000');
    assert.ok(mine > 0);
    // The schema as it was before: every migration up to this one.
    const before = new DataSource({ ...dataSourceOptions(config), migrations: MIGRATIONS.slice(0, mine) });
    await before.initialize();
    await before.query(`CREATE SCHEMA "${schema}"`);
    await before.runMigrations({ transaction: 'each' });
    await insertLogs(before, [
      { at: daysFromNow(-20), message: 'a: 20 days ago' },
      { at: daysFromNow(-1), message: 'b: yesterday' },
      { at: new Date(), message: 'c: now' },
      { at: daysFromNow(2), message: 'd: in two days (a skewed clock)' },
    ]);
    await before.destroy();

    await migrate(config);
    ds = createDataSource(config);
    await ds.initialize();
    assert.deepEqual(await messages(ds), ['a: 20 days ago', 'b: yesterday', 'c: now', 'd: in two days (a skewed clock)']);
    const partitions = await listLogPartitions(ds);
    const legacy = partitions.find((p) => p.name === 'execution_logs_legacy');
    assert.ok(legacy, `partitions: ${partitions.map((p) => p.name).join(', ')}`);
    assert.equal(legacy.from, null);
    assert.equal(legacy.to?.getTime(), utcDayStart(daysFromNow(1)).getTime());
    assert.ok(partitions.some((p) => p.isDefault));
    const [{ n: inDefault }] = await ds.query(`SELECT count(*)::int AS n FROM execution_logs_default`);
    assert.equal(inDefault, 1, 'the row past the legacy bound is in the default partition');

    // The log sink's statement: new rows go in, a redelivered one is skipped.
    const entry = { id: randomUUID(), at: new Date(), message: 'e: after the migration' };
    assert.equal(await insertLogs(ds, [entry]), 1);
    assert.equal(await insertLogs(ds, [entry]), 0);

    // Partitions ahead: today is the legacy partition's; tomorrow on get daily ones, and the skewed row moves into its day.
    const { created, movedRows } = await ensureLogPartitions(ds, new Date(), 3);
    assert.deepEqual(created, [1, 2, 3].map((d) => logPartitionName(utcDayStart(daysFromNow(d)))));
    assert.equal(movedRows, 1);
    const [{ n: moved }] = await ds.query(`SELECT count(*)::int AS n FROM ${logPartitionName(utcDayStart(daysFromNow(2)))}`);
    assert.equal(moved, 1);
    assert.deepEqual((await ensureLogPartitions(ds, new Date(), 3)).created, [], 'a second run creates nothing');

    // down(): a plain table again with every row.
    const undo = new DataSource({ ...dataSourceOptions(config), poolSize: 2 } as never);
    await undo.initialize();
    try {
      while ((await undo.query(`SELECT 1 FROM typeorm_migrations WHERE name = 'Maintenance1764900000000'`)).length > 0) {
        await undo.undoLastMigration({ transaction: 'each' });
      }
    } finally {
      await undo.destroy();
    }
    const [{ relkind }] = await ds.query(`SELECT relkind FROM pg_class WHERE oid = 'execution_logs'::regclass`);
    assert.equal(relkind, 'r');
    assert.equal((await messages(ds)).length, 5);
    assert.equal(await tableExists(ds, 'maintenance_runs'), false);

    // And up again.
    await migrate(config);
    assert.equal((await messages(ds)).length, 5);
    const [{ relkind: again }] = await ds.query(`SELECT relkind FROM pg_class WHERE oid = 'execution_logs'::regclass`);
    assert.equal(again, 'p');
  });
});

describe('retention', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  after(async () => db?.drop());

  it('drops expired execution_logs partitions whole and keeps recent rows', async () => {
    db = await createTestDatabase('mnt');
    const ds = db.dataSource;
    // A platform that has run for 40 days: partitions from then to a few days ahead.
    await ensureLogPartitions(ds, daysFromNow(-40), 43);
    await insertLogs(ds, [
      { at: daysFromNow(-40), message: 'old 40' },
      { at: daysFromNow(-20), message: 'old 20' },
      { at: daysFromNow(-13), message: 'recent 13' },
      { at: new Date(), message: 'recent now' },
    ]);
    // Outside every partition: the default partition's rows are pruned row by row.
    await ds.query(`ALTER TABLE execution_logs DETACH PARTITION ${logPartitionName(utcDayStart(daysFromNow(-30)))}`);
    await insertLogs(ds, [{ at: daysFromNow(-30), message: 'old 30 (default partition)' }]);

    const { dropped, deletedRows } = await dropExpiredLogPartitions(ds, daysFromNow(-14));
    assert.ok(dropped.includes(logPartitionName(utcDayStart(daysFromNow(-40)))));
    assert.ok(dropped.includes(logPartitionName(utcDayStart(daysFromNow(-20)))));
    assert.ok(!dropped.includes(logPartitionName(utcDayStart(daysFromNow(-13)))));
    assert.equal(deletedRows, 1);
    assert.equal(await tableExists(ds, logPartitionName(utcDayStart(daysFromNow(-40)))), false, 'the table is gone, not emptied');
    assert.deepEqual(await messages(ds), ['recent 13', 'recent now']);
    const remaining = (await listLogPartitions(ds)).filter((p) => !p.isDefault);
    assert.ok(remaining.every((p) => p.to! > daysFromNow(-14)), 'no expired partition is left');
  });

  it("prunes finished tasks' old checkpoints, keeping fan_out, running tasks' and recent ones", async () => {
    const ds = db.dataSource;
    const task = async (status: string, finishedDaysAgo: number | null) => {
      const id = randomUUID();
      await ds.query(
        `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, created_at, finished_at)
         VALUES ($1, 'roadmap.generate', $2, 'owner', 'normal', '{}', 'test', now() - interval '60 days', $3)`,
        [id, status, finishedDaysAgo === null ? null : daysFromNow(-finishedDaysAgo)],
      );
      for (const [sequence, step] of ['intent_analysis', 'curriculum_design', 'validation', 'fan_out'].entries()) {
        await ds.query(
          `INSERT INTO workflow_checkpoints (task_id, sequence, step, state, created_at) VALUES ($1, $2, $3, '{}', now() - interval '50 days')`,
          [id, sequence, step],
        );
      }
      return id;
    };
    const oldCompleted = await task('completed', 40);
    const oldFailed = await task('failed', 31);
    const oldCancelled = await task('cancelled', 35);
    const recentCompleted = await task('completed', 29);
    const running = await task('running', null);
    const awaiting = await task('awaiting_review', null);

    const deleted = await pruneFinishedCheckpoints(ds, daysFromNow(-30));
    assert.equal(deleted, 9);
    const steps = async (id: string) =>
      ((await ds.query(`SELECT step FROM workflow_checkpoints WHERE task_id = $1 ORDER BY sequence`, [id])) as Array<{ step: string }>).map((r) => r.step);
    for (const id of [oldCompleted, oldFailed, oldCancelled]) assert.deepEqual(await steps(id), ['fan_out']);
    for (const id of [recentCompleted, running, awaiting]) assert.equal((await steps(id)).length, 4);
    assert.equal(await pruneFinishedCheckpoints(ds, daysFromNow(-30)), 0, 'a second run has nothing left to do');
  });

  it('prunes Idempotency-Key records past their window and old dead letters, keeping recent ones', async () => {
    const ds = db.dataSource;
    const taskId = randomUUID();
    await ds.query(
      `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version) VALUES ($1, 'roadmap.generate', 'completed', 'owner', 'normal', '{}', 'test')`,
      [taskId],
    );
    await ds.query(
      `INSERT INTO idempotency_keys (owner, key, task_id, request_hash, created_at) VALUES
         ('owner', 'old', $1, 'h', now() - interval '3 days'), ('owner', 'recent', $1, 'h', now() - interval '1 hour')`,
      [taskId],
    );
    const deadLetter = (sequence: number, daysAgo: number) =>
      ds.query(
        `INSERT INTO dead_letters (id, dlq_sequence, stream, subject, reason, headers, payload, created_at)
         VALUES ($1, $2, 'CONTENT_GENERATION', 'content.generate.normal.quiz', 'max_deliver: test', '{}', '{}', now() - make_interval(days => $3))`,
        [randomUUID(), sequence, daysAgo],
      );
    await deadLetter(1, 45);
    await deadLetter(2, 5);

    assert.equal(await pruneIdempotencyKeys(ds, daysFromNow(-2)), 1);
    assert.deepEqual(((await ds.query(`SELECT key FROM idempotency_keys`)) as Array<{ key: string }>).map((r) => r.key), ['recent']);
    assert.equal(await pruneDeadLetters(ds, daysFromNow(-30)), 1);
    assert.deepEqual(((await ds.query(`SELECT dlq_sequence::int AS seq FROM dead_letters`)) as Array<{ seq: number }>).map((r) => r.seq), [2]);
  });
});
