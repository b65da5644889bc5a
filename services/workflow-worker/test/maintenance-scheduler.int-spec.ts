import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@roadmap/observability';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import type { DataSource } from 'typeorm';
import { maintenanceRuns, MaintenanceScheduler, type MaintenanceJob } from '../src/maintenance/maintenance.scheduler.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(MaintenanceScheduler.name, () => {
  let db: TestDatabase;
  const sources: DataSource[] = [];
  const logger = createLogger('maintenance-test', 'silent');

  before(async () => {
    db = await createTestDatabase('sched');
    sources.push(await db.connect(3), await db.connect(3));
  });
  after(async () => db?.drop());

  it('two schedulers on one database run each job once per interval, never at the same time', async () => {
    let active = 0;
    let overlaps = 0;
    const ranBy: string[] = [];
    const job = (instance: string): MaintenanceJob => ({
      name: 'probe',
      intervalMs: 1_000,
      async run() {
        active++;
        if (active > 1) overlaps++;
        ranBy.push(instance);
        await sleep(150);
        active--;
        return { rows: 2, detail: { instance } };
      },
    });
    const failing: MaintenanceJob = {
      name: 'failing',
      intervalMs: 1_000,
      run: async () => {
        throw new Error('disk full');
      },
    };
    const schedulers = ['a', 'b'].map(
      (name, i) => new MaintenanceScheduler(sources[i]!, logger, [job(name), failing], { schema: db.schema, pollMs: 50, instance: name }),
    );
    for (const s of schedulers) s.start();
    await sleep(4_600);
    await Promise.all(schedulers.map((s) => s.stop()));

    const runs = (await db.dataSource.query(
      `SELECT job, instance, outcome, detail, interval_seconds, extract(epoch FROM started_at)::float8 AS started FROM maintenance_runs ORDER BY started_at`,
    )) as Array<{ job: string; instance: string; outcome: string; detail: Record<string, unknown>; interval_seconds: number; started: number }>;
    const probe = runs.filter((r) => r.job === 'probe');
    // ~4.6 s at one run a second (each scheduler polls twenty times a second): at most 5, never 9 or 10
    // (fewer on a loaded machine: a run may start late, never early).
    assert.ok(probe.length >= 2 && probe.length <= 5, `probe ran ${probe.length} times`);
    assert.equal(probe.length, ranBy.length, 'every run is recorded');
    for (let i = 1; i < probe.length; i++) {
      assert.ok(probe[i]!.started - probe[i - 1]!.started >= 0.999, `runs ${i - 1} and ${i} are ${probe[i]!.started - probe[i - 1]!.started}s apart`);
    }
    assert.equal(overlaps, 0);
    assert.ok(probe.every((r) => r.outcome === 'ok' && r.detail.rows === 2));
    // The interval each run was configured with: the gateway's run history shows it (and the next due time).
    assert.ok(runs.every((r) => r.interval_seconds === 1), JSON.stringify(runs.map((r) => r.interval_seconds)));

    const failed = runs.filter((r) => r.job === 'failing');
    assert.ok(failed.length >= 2 && failed.length <= 5, `failing ran ${failed.length} times`);
    assert.ok(failed.every((r) => r.outcome === 'error' && r.detail.error === 'disk full'), 'a failing job is recorded with its error, and retried next interval');

    const counted = (await maintenanceRuns.get()).values;
    assert.equal(counted.find((v) => v.labels.job === 'probe' && v.labels.outcome === 'ok')?.value, probe.length);
    assert.equal(counted.find((v) => v.labels.job === 'failing' && v.labels.outcome === 'error')?.value, failed.length);
  });

  it('a job still running elsewhere is not started again, and a dead runner’s run is marked abandoned', async () => {
    const started: string[] = [];
    const slow = (instance: string): MaintenanceJob => ({
      name: 'slow',
      intervalMs: 100,
      async run() {
        started.push(instance);
        await sleep(800);
        return { rows: 0, detail: {} };
      },
    });
    const a = new MaintenanceScheduler(sources[0]!, logger, [slow('a')], { schema: db.schema, pollMs: 50, instance: 'a' });
    const b = new MaintenanceScheduler(sources[1]!, logger, [slow('b')], { schema: db.schema, pollMs: 50, instance: 'b' });
    const first = a.runIfDue(a.jobs[0]!);
    await sleep(200);
    assert.equal(await b.runIfDue(b.jobs[0]!), 'busy', 'the lock is held by the running instance');
    assert.equal(await first, 'ran');
    assert.deepEqual(started, ['a']);

    // A runner that died mid-run left its row `running`; the next holder closes it.
    await db.dataSource.query(`INSERT INTO maintenance_runs (job, instance, outcome, started_at) VALUES ('slow', 'gone', 'running', now() - interval '1 hour')`);
    await sleep(150);
    assert.equal(await b.runIfDue(b.jobs[0]!), 'ran');
    const [gone] = await db.dataSource.query(`SELECT outcome, finished_at FROM maintenance_runs WHERE instance = 'gone'`);
    assert.equal(gone.outcome, 'abandoned');
    assert.ok(gone.finished_at);
  });
});
