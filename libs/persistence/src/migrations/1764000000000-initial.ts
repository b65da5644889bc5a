import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The first schema: tasks, roadmaps, concepts, content items, checkpoints, execution logs. */
export class Initial1764000000000 implements MigrationInterface {
  name = 'Initial1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks (
        id uuid PRIMARY KEY,
        type text NOT NULL,
        status text NOT NULL CHECK (status IN ('queued','running','awaiting_review','completed','failed','cancelled')),
        owner text NOT NULL,
        priority text NOT NULL CHECK (priority IN ('high','normal','low')),
        input jsonb NOT NULL,
        result jsonb,
        error jsonb,
        current_step text,
        progress_done int NOT NULL DEFAULT 0,
        progress_failed int NOT NULL DEFAULT 0,
        progress_total int NOT NULL DEFAULT 0,
        attempts int NOT NULL DEFAULT 0,
        roadmap_id uuid,
        workflow_version text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      )`);
    await q.query(`CREATE INDEX tasks_owner_created_idx ON tasks (owner, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX tasks_status_idx ON tasks (status, updated_at)`);

    await q.query(`
      CREATE TABLE roadmaps (
        id uuid PRIMARY KEY,
        task_id uuid NOT NULL UNIQUE REFERENCES tasks (id) ON DELETE CASCADE,
        owner text NOT NULL,
        goal text NOT NULL,
        preferences jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('designing','generating','completed','failed','cancelled')),
        intent jsonb,
        framework jsonb,
        validation_issues jsonb,
        items_total int NOT NULL DEFAULT 0,
        items_done int NOT NULL DEFAULT 0,
        items_failed int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        CHECK (items_done + items_failed <= items_total)
      )`);

    await q.query(`
      CREATE TABLE concepts (
        id uuid PRIMARY KEY,
        roadmap_id uuid NOT NULL REFERENCES roadmaps (id) ON DELETE CASCADE,
        slug text NOT NULL,
        stage_slug text NOT NULL,
        stage_title text NOT NULL,
        stage_index int NOT NULL,
        position int NOT NULL,
        title text NOT NULL,
        summary text NOT NULL,
        estimated_hours real NOT NULL,
        prerequisites jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (roadmap_id, slug)
      )`);

    await q.query(`
      CREATE TABLE content_items (
        id uuid PRIMARY KEY,
        roadmap_id uuid NOT NULL REFERENCES roadmaps (id) ON DELETE CASCADE,
        concept_id uuid NOT NULL REFERENCES concepts (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('tutorial','resources','quiz')),
        status text NOT NULL CHECK (status IN ('pending','running','completed','failed')),
        content jsonb,
        error jsonb,
        attempts int NOT NULL DEFAULT 0,
        provider text,
        model text,
        prompt_version text,
        input_tokens int,
        output_tokens int,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (roadmap_id, concept_id, kind)
      )`);

    await q.query(`
      CREATE TABLE workflow_checkpoints (
        task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        sequence int NOT NULL,
        step text NOT NULL,
        state jsonb NOT NULL,
        prompt_version text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, sequence)
      )`);

    // No foreign key to tasks: a log entry must never be rejected, whatever it refers to.
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
    await q.query(`CREATE INDEX execution_logs_task_idx ON execution_logs (task_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['execution_logs', 'workflow_checkpoints', 'content_items', 'concepts', 'roadmaps', 'tasks']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
