import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Human review, framework revisions, content regeneration (generations) and cancellation. */
export class WorkflowControls1764100000000 implements MigrationInterface {
  name = 'WorkflowControls1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN review_mode text NOT NULL DEFAULT 'skip' CHECK (review_mode IN ('required', 'skip'))`);
    await q.query(`ALTER TABLE tasks ADD COLUMN prompt_set text`);
    await q.query(`ALTER TABLE tasks ADD COLUMN cancelled_at timestamptz`);
    await q.query(`ALTER TABLE roadmaps DROP CONSTRAINT roadmaps_status_check`);
    await q.query(
      `ALTER TABLE roadmaps ADD CONSTRAINT roadmaps_status_check
         CHECK (status IN ('designing', 'awaiting_review', 'generating', 'completed', 'failed', 'cancelled'))`,
    );
    await q.query(`ALTER TABLE roadmaps ADD COLUMN current_revision int NOT NULL DEFAULT 0`);
    // A regenerated item gets a new generation; a message for an older one is stale and skipped.
    await q.query(`ALTER TABLE content_items ADD COLUMN generation int NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE TABLE roadmap_revisions (
        roadmap_id uuid NOT NULL REFERENCES roadmaps (id) ON DELETE CASCADE,
        revision int NOT NULL,
        framework jsonb NOT NULL,
        source text NOT NULL CHECK (source IN ('design', 'validation', 'review')),
        feedback text,
        requested_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (roadmap_id, revision)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS roadmap_revisions`);
    await q.query(`ALTER TABLE content_items DROP COLUMN generation`);
    await q.query(`ALTER TABLE roadmaps DROP COLUMN current_revision`);
    await q.query(`ALTER TABLE roadmaps DROP CONSTRAINT roadmaps_status_check`);
    await q.query(
      `ALTER TABLE roadmaps ADD CONSTRAINT roadmaps_status_check CHECK (status IN ('designing', 'generating', 'completed', 'failed', 'cancelled'))`,
    );
    await q.query(`ALTER TABLE tasks DROP COLUMN cancelled_at`);
    await q.query(`ALTER TABLE tasks DROP COLUMN prompt_set`);
    await q.query(`ALTER TABLE tasks DROP COLUMN review_mode`);
  }
}
