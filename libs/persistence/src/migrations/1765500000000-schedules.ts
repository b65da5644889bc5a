import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operator schedules (issue 20, item 6): cron schedules that start tasks of any type with a fixed
 * input. `schedules` is the gateway's (the admin API writes it); `schedule_runs` is the workflow
 * worker's (the runner writes one row per occurrence it dealt with). The unique (schedule_id,
 * occurrence_at) is the exactly-once guarantee: the runner inserts it in the transaction that admits
 * the task, so two runners (or a retry) can never start two tasks for one occurrence.
 */
export class Schedules1765500000000 implements MigrationInterface {
  name = 'Schedules1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE schedules (
        id uuid PRIMARY KEY,
        name text NOT NULL UNIQUE,
        cron text NOT NULL,
        timezone text NOT NULL,
        task_type text NOT NULL,
        input jsonb NOT NULL,
        owner text NOT NULL,
        priority text NOT NULL,
        review_mode text NOT NULL DEFAULT 'skip',
        overlap text NOT NULL CHECK (overlap IN ('skip', 'queue', 'allow')),
        catchup text NOT NULL CHECK (catchup IN ('none', 'latest')),
        paused boolean NOT NULL DEFAULT false,
        paused_by text,
        paused_at timestamptz,
        -- Occurrences after this instant are the runner's to fire: set at creation, on a change of
        -- cron or time zone, and on resume (what fell due while paused is not caught up).
        anchor_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE schedule_runs (
        id bigserial PRIMARY KEY,
        schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
        occurrence_at timestamptz NOT NULL,
        fired_at timestamptz NOT NULL DEFAULT now(),
        outcome text NOT NULL CHECK (outcome IN ('started', 'skipped', 'queued', 'failed')),
        task_id uuid,
        error jsonb,
        instance text NOT NULL,
        UNIQUE (schedule_id, occurrence_at)
      )`);
    // The runs page walks id downwards per schedule; the runner looks for the waiting occurrence.
    await q.query(`CREATE INDEX schedule_runs_page_idx ON schedule_runs (schedule_id, id DESC)`);
    await q.query(`CREATE INDEX schedule_runs_queued_idx ON schedule_runs (schedule_id) WHERE outcome = 'queued'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS schedule_runs`);
    await q.query(`DROP TABLE IF EXISTS schedules`);
  }
}
