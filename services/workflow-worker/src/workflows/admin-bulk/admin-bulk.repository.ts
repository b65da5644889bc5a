import { Inject, Injectable } from '@nestjs/common';
import type { AdminBulkResult } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { TaskLifecycle } from '@roadmap/workflow';
import { DataSource, type EntityManager } from 'typeorm';

export type Outcome = 'done' | 'failed' | 'skipped';

/** Errors kept in a bulk task's result. */
const MAX_ERRORS = 100;

/** The item's outcome was recorded already (by another run of the same task): its action must not count. */
export class AlreadyRecorded extends Error {}

/** admin_bulk_items: the outcome of each item of an admin bulk task (this worker's admin.bulk is its only writer). */
@Injectable()
export class AdminBulkRepository {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  get pool(): DataSource {
    return this.dataSource;
  }

  /** Records an item's outcome; throws {@link AlreadyRecorded} when it has one (inside an action's transaction: rolls it back). */
  async record(db: DataSource | EntityManager, taskId: string, itemId: string, outcome: Outcome, error?: { code: string; message: string }): Promise<void> {
    const { count } = await sql(
      db,
      `INSERT INTO admin_bulk_items (task_id, item_id, outcome, error) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (task_id, item_id) DO NOTHING`,
      [taskId, itemId, outcome, error ? JSON.stringify(error) : null],
    );
    if (count === 0) throw new AlreadyRecorded(`item ${itemId} of bulk task ${taskId} was recorded already`);
  }

  /** Records one outcome for many items; those recorded already keep theirs. */
  async recordMany(db: DataSource | EntityManager, taskId: string, itemIds: readonly string[], outcome: Outcome): Promise<void> {
    if (itemIds.length === 0) return;
    await sql(
      db,
      `INSERT INTO admin_bulk_items (task_id, item_id, outcome) SELECT $1, id, $3 FROM unnest($2::uuid[]) AS id ON CONFLICT (task_id, item_id) DO NOTHING`,
      [taskId, itemIds, outcome],
    );
  }

  /** Which of `ids` have an outcome. */
  async recorded(taskId: string, ids: readonly string[]): Promise<Set<string>> {
    const { rows } = await sql<{ item_id: string }>(this.dataSource, `SELECT item_id FROM admin_bulk_items WHERE task_id = $1 AND item_id = ANY($2::uuid[])`, [taskId, ids]);
    return new Set(rows.map((r) => r.item_id));
  }

  /** The task's progress from its outcomes: done counts what was acted on or skipped, failed what failed. Call in a step's effect. */
  async showProgress(em: EntityManager, taskId: string, total: number): Promise<void> {
    const counts = await this.counts(em, taskId);
    await this.lifecycle.setProgress(em, taskId, { done: counts.done + counts.skipped, failed: counts.failed, total });
  }

  async result(taskId: string, total: number): Promise<AdminBulkResult> {
    const counts = await this.counts(this.dataSource, taskId);
    const { rows } = await sql<{ id: string; code: string; message: string }>(
      this.dataSource,
      `SELECT item_id AS id, error->>'code' AS code, error->>'message' AS message FROM admin_bulk_items
        WHERE task_id = $1 AND outcome = 'failed' ORDER BY at LIMIT ${MAX_ERRORS}`,
      [taskId],
    );
    return { total, ...counts, errors: rows };
  }

  private async counts(db: DataSource | EntityManager, taskId: string): Promise<{ done: number; failed: number; skipped: number }> {
    const { rows } = await sql<{ done: number; failed: number; skipped: number }>(
      db,
      `SELECT count(*) FILTER (WHERE outcome = 'done')::int AS done, count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
              count(*) FILTER (WHERE outcome = 'skipped')::int AS skipped
         FROM admin_bulk_items WHERE task_id = $1`,
      [taskId],
    );
    return rows[0]!;
  }
}
