import type { MigrationInterface, QueryRunner } from 'typeorm';

const COLUMNS = 'id, created_at, task_id, service, instance, level, step, message, data, ingested_at';

/**
 * Scheduled maintenance (docs/design.md, "Scheduled maintenance"):
 * - `maintenance_runs`: one row per run of a maintenance job, for operators and for the scheduler
 *   itself (a job is due when its last run started an interval ago, whichever replica ran it);
 * - `tasks.redrives`: how many times the reaper re-published a stuck task's workflow message;
 * - `execution_logs` partitioned by range of `created_at`, so retention drops whole partitions.
 *
 * The existing execution_logs table is kept, rows and all, as the partition of everything before
 * tomorrow (UTC), with no copy: attaching it only scans it once to check the bound. Rows from
 * tomorrow on (clock skew) move to the default partition first. An empty table is dropped instead, so
 * a fresh install starts with daily partitions only. Daily partitions are created ahead of time by
 * the `execution-logs` maintenance job; rows outside them land in the default partition, which that
 * job empties into the partitions it creates.
 */
export class Maintenance1764900000000 implements MigrationInterface {
  name = 'Maintenance1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN redrives int NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE TABLE maintenance_runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job text NOT NULL,
        instance text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome text NOT NULL CHECK (outcome IN ('running', 'ok', 'error', 'abandoned')),
        detail jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query(`CREATE INDEX maintenance_runs_job_started_idx ON maintenance_runs (job, started_at DESC)`);

    await q.query(`ALTER TABLE execution_logs RENAME TO execution_logs_legacy`);
    await q.query(`ALTER TABLE execution_logs_legacy RENAME CONSTRAINT execution_logs_pkey TO execution_logs_legacy_pkey`);
    await q.query(`ALTER INDEX execution_logs_task_idx RENAME TO execution_logs_legacy_task_idx`);
    // The key includes the partition key, as PostgreSQL requires: the log sink's ON CONFLICT DO
    // NOTHING (a redelivered entry) keeps working per partition.
    await q.query(`
      CREATE TABLE execution_logs (
        id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        task_id uuid,
        service text NOT NULL,
        instance text NOT NULL DEFAULT '',
        level text NOT NULL,
        step text,
        message text NOT NULL,
        data jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, created_at)
      ) PARTITION BY RANGE (created_at)`);
    await q.query(`CREATE INDEX execution_logs_task_idx ON execution_logs (task_id, created_at)`);
    await q.query(`CREATE TABLE execution_logs_default PARTITION OF execution_logs DEFAULT`);

    const [{ bound, empty }] = (await q.query(
      `SELECT ((date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC')::text AS bound,
              NOT EXISTS (SELECT 1 FROM execution_logs_legacy) AS empty`,
    )) as Array<{ bound: string; empty: boolean }>;
    if (empty) {
      await q.query(`DROP TABLE execution_logs_legacy`);
      return;
    }
    await q.query(
      `WITH moved AS (DELETE FROM execution_logs_legacy WHERE created_at >= $1::timestamptz RETURNING ${COLUMNS})
       INSERT INTO execution_logs (${COLUMNS}) SELECT ${COLUMNS} FROM moved`,
      [bound],
    );
    await q.query(`ALTER TABLE execution_logs ATTACH PARTITION execution_logs_legacy FOR VALUES FROM (MINVALUE) TO ('${bound}')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE execution_logs RENAME TO execution_logs_partitioned`);
    await q.query(`ALTER TABLE execution_logs_partitioned RENAME CONSTRAINT execution_logs_pkey TO execution_logs_partitioned_pkey`);
    await q.query(`ALTER INDEX execution_logs_task_idx RENAME TO execution_logs_partitioned_task_idx`);
    await q.query(`
      CREATE TABLE execution_logs (
        id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        task_id uuid,
        service text NOT NULL,
        instance text NOT NULL DEFAULT '',
        level text NOT NULL,
        step text,
        message text NOT NULL,
        data jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, created_at)
      )`);
    await q.query(`INSERT INTO execution_logs (${COLUMNS}) SELECT ${COLUMNS} FROM execution_logs_partitioned`);
    await q.query(`CREATE INDEX execution_logs_task_idx ON execution_logs (task_id, created_at)`);
    // Drops every partition with it.
    await q.query(`DROP TABLE execution_logs_partitioned`);

    await q.query(`DROP TABLE IF EXISTS maintenance_runs`);
    await q.query(`ALTER TABLE tasks DROP COLUMN redrives`);
  }
}
