import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The workflow engine (docs/design.md, "Workflows as definitions"):
 * - `tasks.parent_id`: a child task (a batch's roadmaps) names its parent; deleting the parent deletes
 *   its children. `tasks.child_index` is the child's position in its parent's fan-out: with the
 *   unique pair, creating children again after a crash creates neither duplicates nor gaps.
 * - `tasks.soft_deadline_at` / `hard_deadline_at`: the whole task's deadlines, set when it first
 *   starts (per type); `deadline_warned_at` records the soft warning once.
 * - `tasks_join_children`: when a child reaches or leaves a final state, its parent's progress moves
 *   by one in the same transaction, so a join never misses or double-counts a child whichever code
 *   path ended it (an item's completion, a cancel, the reaper, a dead letter). When the last child
 *   ends, the parent's workflow is woken: every child's end is NOTIFYed on roadmap_task_joined
 *   (`<schema>:<parent>:<child>:<status>:<done>:<failed>:<total>:<parent status>`, delivered at
 *   commit), a progress event for all, the join command for the last; the reaper re-drives a parent
 *   whose notice was missed.
 */
export class WorkflowEngine1765100000000 implements MigrationInterface {
  name = 'WorkflowEngine1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN parent_id uuid REFERENCES tasks (id) ON DELETE CASCADE`);
    await q.query(`ALTER TABLE tasks ADD COLUMN child_index int`);
    await q.query(`ALTER TABLE tasks ADD COLUMN soft_deadline_at timestamptz`);
    await q.query(`ALTER TABLE tasks ADD COLUMN hard_deadline_at timestamptz`);
    await q.query(`ALTER TABLE tasks ADD COLUMN deadline_warned_at timestamptz`);
    await q.query(`CREATE UNIQUE INDEX tasks_parent_child_idx ON tasks (parent_id, child_index) WHERE parent_id IS NOT NULL`);
    await q.query(`CREATE INDEX tasks_hard_deadline_idx ON tasks (hard_deadline_at) WHERE status IN ('queued', 'running') AND hard_deadline_at IS NOT NULL`);
    await q.query(`
      CREATE FUNCTION tasks_join_children() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        done_delta int := (NEW.status = 'completed')::int - (OLD.status = 'completed')::int;
        failed_delta int := (NEW.status IN ('failed', 'cancelled'))::int - (OLD.status IN ('failed', 'cancelled'))::int;
        parent record;
      BEGIN
        IF done_delta = 0 AND failed_delta = 0 THEN RETURN NEW; END IF;
        UPDATE tasks SET progress_done = progress_done + done_delta, progress_failed = progress_failed + failed_delta, updated_at = now()
         WHERE id = NEW.parent_id
         RETURNING id, status, progress_done, progress_failed, progress_total INTO parent;
        -- Every child that ends is announced (a progress event); the parent's join follows the last.
        IF parent.id IS NOT NULL AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
          PERFORM pg_notify('roadmap_task_joined', concat_ws(':', TG_TABLE_SCHEMA, parent.id, NEW.id, NEW.status,
                            parent.progress_done, parent.progress_failed, parent.progress_total, parent.status));
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER tasks_join_children AFTER UPDATE OF status ON tasks
        FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION tasks_join_children()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tasks_join_children ON tasks`);
    await q.query(`DROP FUNCTION tasks_join_children()`);
    await q.query(`DROP INDEX tasks_hard_deadline_idx`);
    await q.query(`DROP INDEX tasks_parent_child_idx`);
    for (const column of ['deadline_warned_at', 'hard_deadline_at', 'soft_deadline_at', 'child_index', 'parent_id']) {
      await q.query(`ALTER TABLE tasks DROP COLUMN ${column}`);
    }
  }
}
