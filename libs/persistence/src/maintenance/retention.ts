import type { DataSource } from 'typeorm';
import { sql } from '../sql.js';

/** Rows deleted per statement: no statement holds its locks or grows the WAL for long. */
const BATCH = 5_000;

/**
 * Deletes the workflow checkpoints of tasks that finished (completed, failed, cancelled) before
 * `finishedBefore`. Checkpoints of tasks still queued, running or awaiting review are never touched.
 *
 * The `fan_out` checkpoint is kept (a few bytes): it is what tells a resumed task that its concepts and
 * items exist, so that a failed or cancelled task resumed after the retention period (or a completed
 * one whose regenerated items failed) continues its content phase instead of designing a second
 * framework over the concepts it already has. What goes is the bulk: every step's LLM output.
 * @returns the checkpoints deleted.
 */
export async function pruneFinishedCheckpoints(dataSource: DataSource, finishedBefore: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const { count } = await sql(
      dataSource,
      `DELETE FROM workflow_checkpoints WHERE (task_id, sequence) IN (
         SELECT c.task_id, c.sequence FROM workflow_checkpoints c JOIN tasks t ON t.id = c.task_id
          WHERE t.status IN ('completed', 'failed', 'cancelled') AND t.finished_at < $1 AND c.step <> 'fan_out'
          LIMIT $2)`,
      [finishedBefore, BATCH],
    );
    total += count;
    if (count < BATCH) return total;
  }
}

/** Deletes maintenance_runs rows (the run history) started before `startedBefore`. */
export async function pruneMaintenanceRuns(dataSource: DataSource, startedBefore: Date): Promise<number> {
  const { count } = await sql(dataSource, `DELETE FROM maintenance_runs WHERE started_at < $1 AND outcome <> 'running'`, [startedBefore]);
  return count;
}

/**
 * Deletes schedule occurrences fired before `firedBefore`, except each schedule's latest one (the
 * runner counts occurrences after it: without it, a `catchup: latest` schedule would fire an old
 * occurrence again) and a waiting (`queued`) one.
 */
export async function pruneScheduleRuns(dataSource: DataSource, firedBefore: Date): Promise<number> {
  const { count } = await sql(
    dataSource,
    `DELETE FROM schedule_runs r WHERE r.fired_at < $1 AND r.outcome <> 'queued'
        AND r.occurrence_at < (SELECT max(l.occurrence_at) FROM schedule_runs l WHERE l.schedule_id = r.schedule_id)`,
    [firedBefore],
  );
  return count;
}

/**
 * Deletes Idempotency-Key records created before `createdBefore` (callers pass the 24 h window plus
 * a margin): past the window a key no longer returns the first task, so its row is dead weight.
 */
export async function pruneIdempotencyKeys(dataSource: DataSource, createdBefore: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const { count } = await sql(
      dataSource,
      `DELETE FROM idempotency_keys WHERE (owner, key) IN (SELECT owner, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
      [createdBefore, BATCH],
    );
    total += count;
    if (count < BATCH) return total;
  }
}

/** Deletes dead-letter records created before `createdBefore` (the DEAD_LETTERS stream keeps its copy 30 days). */
export async function pruneDeadLetters(dataSource: DataSource, createdBefore: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const { count } = await sql(dataSource, `DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE created_at < $1 LIMIT $2)`, [
      createdBefore,
      BATCH,
    ]);
    total += count;
    if (count < BATCH) return total;
  }
}
