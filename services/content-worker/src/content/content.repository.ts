import { Inject, Injectable } from '@nestjs/common';
import type { ContentKind, Framework, IntentAnalysis, ItemStatus, Progress, TaskStatus } from '@roadmap/contracts';
import { sql, type StoredError } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** Everything one content item's generation needs, read in one query. */
export interface ItemContext {
  /** This read claimed the item (moved it to running for the message's generation). */
  marked: boolean;
  itemId: string;
  itemStatus: ItemStatus;
  generation: number;
  taskStatus: TaskStatus;
  /** Whose task it is: LLM usage, budgets and call records are counted per owner. */
  owner: string;
  intent: IntentAnalysis | null;
  framework: Framework | null;
  concept: { slug: string; title: string; summary: string; estimatedHours: number; prerequisites: string[] };
  stage: { id: string; title: string };
  /** When the item reached its final state (its last update), and its stored error if it failed. */
  finishedAt: Date | null;
  error: StoredError | null;
  /** The roadmap's counters and the task's end, for announcing a finish again. */
  progress: Progress;
  taskFinishedAt: Date | null;
}

export interface ItemOutcome {
  /** False when the item had already reached a final state (a redelivery): nothing was changed. */
  changed: boolean;
  /** When the item reached its final state (stable: announcements use it as their time). */
  finishedAt: Date | null;
  /** When the task ended, if this item ended it. */
  taskFinishedAt: Date | null;
  progress: Progress;
  /** The task's final status when this item was its last one. */
  finished: 'completed' | 'failed' | null;
}

/**
 * The content worker's writes: content items, and the roadmap/task counters they drive. An item
 * moves to a final state once; only that transition moves the counters, so a redelivered message
 * never counts twice, and the row lock on the roadmap serialises the last items of two workers:
 * exactly one of them sees done + failed = total and completes the task.
 */
@Injectable()
export class ContentRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Reads the item's context and, in the same statement, moves it pending/running -> running for
   * `generation` (counting the attempt) when that is allowed: the item is of this generation and not
   * final, its task is running and its roadmap has a framework. One round trip instead of a read and
   * a guarded update; `marked` says whether the item was claimed. The returned status is the one
   * before the update, so a skipped message still sees why.
   */
  async claim(roadmapId: string, conceptId: string, kind: ContentKind, generation: number): Promise<ItemContext | null> {
    const { rows } = await sql<{
      marked: boolean;
      item_id: string;
      item_status: ItemStatus;
      generation: number;
      task_status: TaskStatus;
      owner: string;
      intent: IntentAnalysis | null;
      framework: Framework | null;
      slug: string;
      title: string;
      summary: string;
      estimated_hours: number;
      prerequisites: string[];
      stage_slug: string;
      stage_title: string;
      item_updated_at: Date;
      error: StoredError | null;
      items_done: number;
      items_failed: number;
      items_total: number;
      finished_at: Date | null;
    }>(
      this.dataSource,
      `WITH cur AS (
         SELECT i.id AS item_id, i.status AS item_status, i.generation, t.status AS task_status, t.owner, r.intent, r.framework,
                c.slug, c.title, c.summary, c.estimated_hours, c.prerequisites, c.stage_slug, c.stage_title,
                i.updated_at AS item_updated_at, i.error, r.items_done, r.items_failed, r.items_total, t.finished_at
           FROM content_items i
           JOIN concepts c ON c.id = i.concept_id
           JOIN roadmaps r ON r.id = i.roadmap_id
           JOIN tasks t ON t.id = r.task_id
          WHERE i.roadmap_id = $1 AND i.concept_id = $2 AND i.kind = $3
       ), marked AS (
         UPDATE content_items i SET status = 'running', attempts = attempts + 1, updated_at = now()
           FROM cur
          WHERE i.id = cur.item_id AND i.generation = $4 AND i.status IN ('pending', 'running')
            AND cur.task_status = 'running'
            -- as the service's own check (a JSON null reads as null too)
            AND cur.intent IS NOT NULL AND cur.intent <> 'null'::jsonb AND cur.framework IS NOT NULL AND cur.framework <> 'null'::jsonb
         RETURNING i.id
       )
       SELECT EXISTS (SELECT 1 FROM marked) AS marked, cur.* FROM cur`,
      [roadmapId, conceptId, kind, generation],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      marked: row.marked,
      itemId: row.item_id,
      itemStatus: row.item_status,
      generation: row.generation,
      taskStatus: row.task_status,
      owner: row.owner,
      intent: row.intent,
      framework: row.framework,
      concept: {
        slug: row.slug,
        title: row.title,
        summary: row.summary,
        estimatedHours: Number(row.estimated_hours),
        prerequisites: row.prerequisites,
      },
      stage: { id: row.stage_slug, title: row.stage_title },
      finishedAt: row.item_status === 'completed' || row.item_status === 'failed' ? row.item_updated_at : null,
      error: row.error,
      progress: { done: row.items_done, failed: row.items_failed, total: row.items_total },
      taskFinishedAt: row.finished_at,
    };
  }

  complete(
    roadmapId: string,
    itemId: string,
    generation: number,
    result: { content: unknown; provider: string; model: string; promptVersion: string; inputTokens: number; outputTokens: number },
  ): Promise<ItemOutcome> {
    return this.finish(
      roadmapId,
      itemId,
      generation,
      `status = 'completed', content = $4::jsonb, error = NULL, provider = $5, model = $6, prompt_version = $7,
       input_tokens = $8, output_tokens = $9, completed_at = now()`,
      [JSON.stringify(result.content), result.provider, result.model, result.promptVersion, result.inputTokens, result.outputTokens],
      'items_done',
    );
  }

  /**
   * Ends the whole task as failed with `error` (an LLM budget is spent: no further item can be made).
   * Also replaces the generic ITEMS_FAILED of a task that this item's failure just finished, so the
   * task says why. False when the task had already ended otherwise (nothing changed).
   */
  async failTask(taskId: string, roadmapId: string, error: StoredError): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const updated = await sql(
        em,
        `UPDATE tasks SET status = 'failed', error = $2::jsonb, current_step = NULL, finished_at = coalesce(finished_at, now()), updated_at = now()
          WHERE id = $1 AND (status = 'running' OR (status = 'failed' AND error->>'code' = 'ITEMS_FAILED'))`,
        [taskId, JSON.stringify(error)],
      );
      await sql(em, `UPDATE roadmaps SET status = 'failed', updated_at = now() WHERE id = $1 AND status = 'generating'`, [roadmapId]);
      return updated.count > 0;
    });
  }

  fail(roadmapId: string, itemId: string, generation: number, error: StoredError): Promise<ItemOutcome> {
    return this.finish(roadmapId, itemId, generation, `status = 'failed', error = $4::jsonb`, [JSON.stringify(error)], 'items_failed');
  }

  /**
   * One statement (data-modifying CTEs), so the roadmap and task rows are locked only while it runs,
   * not across round trips: the item moves to its final state (if it is of this generation, not yet
   * final, and its task is running); only then the roadmap counter moves, and the task's progress
   * follows from the counter's new value. Concurrent last items wait on the roadmap row and each
   * sees the counter as the previous one left it, so exactly one of them completes the task.
   */
  private async finish(
    roadmapId: string,
    itemId: string,
    generation: number,
    set: string,
    setParams: unknown[],
    counter: 'items_done' | 'items_failed',
  ): Promise<ItemOutcome> {
    const failedDelta = counter === 'items_failed' ? 1 : 0;
    const { rows } = await sql<{
      changed: number;
      items_done: number;
      items_failed: number;
      items_total: number;
      task_status: string | null;
      finished_at: Date | null;
      task_finished_at: Date | null;
    }>(
      this.dataSource,
      `WITH item AS (
         UPDATE content_items i SET ${set}, updated_at = now()
          WHERE i.id = $2 AND i.generation = $3 AND i.status IN ('pending', 'running')
            AND EXISTS (SELECT 1 FROM roadmaps r JOIN tasks t ON t.id = r.task_id WHERE r.id = $1 AND t.status = 'running')
         RETURNING i.id, i.updated_at
       ), rm AS (
         UPDATE roadmaps r SET ${counter} = r.${counter} + 1, updated_at = now(),
                status = CASE WHEN r.items_done + r.items_failed + 1 = r.items_total AND r.status = 'generating'
                              THEN CASE WHEN r.items_failed + ${failedDelta} = 0 THEN 'completed' ELSE 'failed' END
                              ELSE r.status END,
                completed_at = CASE WHEN r.items_done + r.items_failed + 1 = r.items_total THEN now() ELSE r.completed_at END
          WHERE r.id = $1 AND EXISTS (SELECT 1 FROM item)
         RETURNING r.task_id, r.items_done, r.items_failed, r.items_total
       ), tk AS (
         UPDATE tasks t SET progress_done = rm.items_done, progress_failed = rm.items_failed, updated_at = now(),
                status = CASE WHEN rm.items_done + rm.items_failed = rm.items_total
                              THEN CASE WHEN rm.items_failed = 0 THEN 'completed' ELSE 'failed' END
                              ELSE t.status END,
                finished_at = CASE WHEN rm.items_done + rm.items_failed = rm.items_total THEN now() ELSE t.finished_at END,
                current_step = CASE WHEN rm.items_done + rm.items_failed = rm.items_total THEN NULL ELSE t.current_step END,
                error = CASE WHEN rm.items_done + rm.items_failed = rm.items_total AND rm.items_failed > 0
                             THEN jsonb_build_object('code', 'ITEMS_FAILED', 'message', rm.items_failed || ' of ' || rm.items_total || ' content items failed')
                             ELSE t.error END
           FROM rm WHERE t.id = rm.task_id AND t.status = 'running'
         RETURNING t.status, t.finished_at
       )
       SELECT 1 AS changed, rm.items_done, rm.items_failed, rm.items_total, (SELECT status FROM tk) AS task_status,
              (SELECT updated_at FROM item) AS finished_at, (SELECT finished_at FROM tk) AS task_finished_at FROM rm
       UNION ALL
       SELECT 0, r.items_done, r.items_failed, r.items_total, NULL, NULL, NULL FROM roadmaps r WHERE r.id = $1 AND NOT EXISTS (SELECT 1 FROM item)`,
      [roadmapId, itemId, generation, ...setParams],
    );
    const row = rows[0];
    if (!row) throw new Error(`roadmap ${roadmapId} vanished`);
    const progress = { done: row.items_done, failed: row.items_failed, total: row.items_total };
    const finished = row.task_status === 'completed' || row.task_status === 'failed' ? row.task_status : null;
    return { changed: row.changed === 1, progress, finished, finishedAt: row.finished_at, taskFinishedAt: row.task_finished_at };
  }
}
