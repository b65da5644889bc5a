import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Admin bulk actions run as tasks (type admin.bulk, in the workflow worker) instead of admin_jobs
 * rows worked in the gateway: admin_jobs goes. admin_bulk_items records each item's outcome in the
 * same transaction as the item's action, so a run taken over after a crash acts on no item twice and
 * its counts stay exact (the workflow worker's admin.bulk definition is its only writer).
 */
export class AdminBulkTasks1765750000000 implements MigrationInterface {
  name = 'AdminBulkTasks1765750000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS admin_jobs`);
    await q.query(`
      CREATE TABLE admin_bulk_items (
        task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        item_id uuid NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('done', 'failed', 'skipped')),
        error jsonb,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, item_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS admin_bulk_items`);
    await q.query(`
      CREATE TABLE admin_jobs (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        actor text NOT NULL,
        params jsonb NOT NULL,
        dedupe_key text NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        total int NOT NULL DEFAULT 0,
        done int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        skipped int NOT NULL DEFAULT 0,
        result jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX admin_jobs_dedupe_idx ON admin_jobs (dedupe_key) WHERE status = 'running'`);
    await q.query(`CREATE INDEX admin_jobs_created_idx ON admin_jobs (created_at DESC)`);
  }
}
