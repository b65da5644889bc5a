import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Admin controls (issue 20): the audit trail of every admin action, the bulk-action jobs with their
 * progress, per-process stats and served workflow types in the worker registry, and a
 * full-text index on a task's goal for the admin search across owners.
 */
export class AdminControls1765300000583 implements MigrationInterface {
  name = 'AdminControls1765300000583';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE admin_audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        params jsonb NOT NULL DEFAULT '{}',
        outcome text NOT NULL CHECK (outcome IN ('ok', 'failed')),
        result jsonb
      )`);
    // The cursor walks id downwards; filters by actor or action stay cheap.
    await q.query(`CREATE INDEX admin_audit_actor_idx ON admin_audit (actor, id DESC)`);
    await q.query(`CREATE INDEX admin_audit_action_idx ON admin_audit (action, id DESC)`);
    await q.query(`
      CREATE TABLE admin_jobs (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        actor text NOT NULL,
        params jsonb NOT NULL,
        -- Same action and filter by the same admin while one is open: the same job (a retried call).
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
    await q.query(`ALTER TABLE worker_heartbeats ADD COLUMN stats jsonb NOT NULL DEFAULT '{}', ADD COLUMN serves jsonb NOT NULL DEFAULT '[]'`);
    // Full-text ('simple': no stemming, any language) rather than pg_trgm: no extension to install,
    // which a managed database or a per-schema test platform may not allow.
    await q.query(`CREATE INDEX tasks_goal_fts_idx ON tasks USING gin (to_tsvector('simple', coalesce(input->>'goal', '')))`);
    // The search across owners is newest first: without this, a filter that matches much sorts it all.
    await q.query(`CREATE INDEX tasks_created_idx ON tasks (created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS tasks_created_idx`);
    await q.query(`DROP INDEX IF EXISTS tasks_goal_fts_idx`);
    await q.query(`ALTER TABLE worker_heartbeats DROP COLUMN IF EXISTS stats, DROP COLUMN IF EXISTS serves`);
    await q.query(`DROP TABLE IF EXISTS admin_jobs`);
    await q.query(`DROP TABLE IF EXISTS admin_audit`);
  }
}
