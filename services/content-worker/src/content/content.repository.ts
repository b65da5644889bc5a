import { Inject, Injectable } from '@nestjs/common';
import type { ContentKind, Framework, IntentAnalysis, ItemStatus, Progress, TaskStatus } from '@roadmap/contracts';
import { sql, type StoredError } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** Everything one content item's generation needs, read in one query. */
export interface ItemContext {
  itemId: string;
  itemStatus: ItemStatus;
  generation: number;
  taskStatus: TaskStatus;
  intent: IntentAnalysis | null;
  framework: Framework | null;
  concept: { slug: string; title: string; summary: string; estimatedHours: number; prerequisites: string[] };
  stage: { id: string; title: string };
}

export interface ItemOutcome {
  /** False when the item had already reached a final state (a redelivery): nothing was changed. */
  changed: boolean;
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

  async load(roadmapId: string, conceptId: string, kind: ContentKind): Promise<ItemContext | null> {
    const { rows } = await sql<{
      item_id: string;
      item_status: ItemStatus;
      generation: number;
      task_status: TaskStatus;
      intent: IntentAnalysis | null;
      framework: Framework | null;
      slug: string;
      title: string;
      summary: string;
      estimated_hours: number;
      prerequisites: string[];
      stage_slug: string;
      stage_title: string;
    }>(
      this.dataSource,
      `SELECT i.id AS item_id, i.status AS item_status, i.generation, t.status AS task_status, r.intent, r.framework,
              c.slug, c.title, c.summary, c.estimated_hours, c.prerequisites, c.stage_slug, c.stage_title
         FROM content_items i
         JOIN concepts c ON c.id = i.concept_id
         JOIN roadmaps r ON r.id = i.roadmap_id
         JOIN tasks t ON t.id = r.task_id
        WHERE i.roadmap_id = $1 AND i.concept_id = $2 AND i.kind = $3`,
      [roadmapId, conceptId, kind],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      itemId: row.item_id,
      itemStatus: row.item_status,
      generation: row.generation,
      taskStatus: row.task_status,
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
    };
  }

  /** pending/running -> running, counting the attempt; false when the item moved on (stale or cancelled). */
  async markRunning(itemId: string, generation: number): Promise<boolean> {
    const { count } = await sql(
      this.dataSource,
      `UPDATE content_items i SET status = 'running', attempts = attempts + 1, updated_at = now()
        WHERE i.id = $1 AND i.generation = $2 AND i.status IN ('pending', 'running')
          AND EXISTS (SELECT 1 FROM roadmaps r JOIN tasks t ON t.id = r.task_id WHERE r.id = i.roadmap_id AND t.status = 'running')`,
      [itemId, generation],
    );
    return count > 0;
  }

  complete(
    roadmapId: string,
    itemId: string,
    generation: number,
    result: { content: unknown; provider: string; model: string; promptVersion: string; inputTokens: number; outputTokens: number },
  ): Promise<ItemOutcome> {
    return this.finish(
      roadmapId,
      `UPDATE content_items SET status = 'completed', content = $2::jsonb, error = NULL, provider = $3, model = $4,
              prompt_version = $5, input_tokens = $6, output_tokens = $7, completed_at = now(), updated_at = now()
        WHERE id = $1 AND generation = $8 AND status IN ('pending', 'running')`,
      [itemId, JSON.stringify(result.content), result.provider, result.model, result.promptVersion, result.inputTokens, result.outputTokens, generation],
      'items_done',
    );
  }

  fail(roadmapId: string, itemId: string, generation: number, error: StoredError): Promise<ItemOutcome> {
    return this.finish(
      roadmapId,
      `UPDATE content_items SET status = 'failed', error = $2::jsonb, updated_at = now()
        WHERE id = $1 AND generation = $3 AND status IN ('pending', 'running')`,
      [itemId, JSON.stringify(error), generation],
      'items_failed',
    );
  }

  private finish(roadmapId: string, itemUpdate: string, params: unknown[], counter: 'items_done' | 'items_failed'): Promise<ItemOutcome> {
    return this.dataSource.transaction(async (em) => {
      // Lock the task row first: a cancellation committed before this point is seen, and one that
      // comes later waits for this transaction. A task no longer running gets nothing written.
      const task = await sql<{ status: string }>(
        em,
        `SELECT t.status FROM tasks t JOIN roadmaps r ON r.task_id = t.id WHERE r.id = $1 FOR UPDATE OF t`,
        [roadmapId],
      );
      const running = task.rows[0]?.status === 'running';
      const item = running ? await sql(em, itemUpdate, params) : { count: 0 };
      const changed = item.count > 0;
      // Locks the roadmap row: concurrent last items serialise here.
      const { rows } = await sql<{ task_id: string; items_done: number; items_failed: number; items_total: number }>(
        em,
        changed
          ? `UPDATE roadmaps SET ${counter} = ${counter} + 1, updated_at = now() WHERE id = $1
             RETURNING task_id, items_done, items_failed, items_total`
          : `SELECT task_id, items_done, items_failed, items_total FROM roadmaps WHERE id = $1`,
        [roadmapId],
      );
      const roadmap = rows[0];
      if (!roadmap) throw new Error(`roadmap ${roadmapId} vanished`);
      const progress = { done: roadmap.items_done, failed: roadmap.items_failed, total: roadmap.items_total };
      if (!changed) return { changed, progress, finished: null };

      const last = progress.done + progress.failed === progress.total;
      const finished = last ? (progress.failed === 0 ? 'completed' : 'failed') : null;
      await sql(
        em,
        `UPDATE tasks SET progress_done = $2, progress_failed = $3, updated_at = now() WHERE id = $1 AND status = 'running'`,
        [roadmap.task_id, progress.done, progress.failed],
      );
      if (finished) {
        const error = finished === 'failed' ? JSON.stringify({ code: 'ITEMS_FAILED', message: `${progress.failed} of ${progress.total} content items failed` }) : null;
        await sql(
          em,
          `UPDATE tasks SET status = $2, error = $3::jsonb, current_step = NULL, finished_at = now(), updated_at = now()
            WHERE id = $1 AND status = 'running'`,
          [roadmap.task_id, finished, error],
        );
        await sql(em, `UPDATE roadmaps SET status = $2, completed_at = now() WHERE id = $1 AND status = 'generating'`, [roadmapId, finished]);
      }
      return { changed, progress, finished };
    });
  }
}
