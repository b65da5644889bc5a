import { Inject, Injectable } from '@nestjs/common';
import type { ContentKind, IntentAnalysis, ItemStatus, Progress, TaskStatus } from '@roadmap/contracts';
import { roadmapResultSql, sql, type StoredError } from '@roadmap/persistence';
import { Outbox, TaskLifecycle, type OutboxMessage } from '@roadmap/workflow';
import { DataSource, type EntityManager } from 'typeorm';

/** Everything one content item's generation needs, read in one query. */
export interface ItemContext {
  itemId: string;
  itemStatus: ItemStatus;
  generation: number;
  taskStatus: TaskStatus;
  /** Whose task it is: LLM usage, budgets and call records are counted per owner. */
  owner: string;
  /** The task's workflow definition version (part of the LLM cache key). */
  workflowVersion: string;
  intent: IntentAnalysis | null;
  /** The framework's title; null while the roadmap has no framework. */
  roadmapTitle: string | null;
  concept: { slug: string; title: string; summary: string; estimatedHours: number; prerequisites: string[] };
  stage: { id: string; title: string };
  /** When the item reached its final state (its last update), and its stored error if it failed. */
  finishedAt: Date | null;
  error: StoredError | null;
  /** The roadmap's counters and the task's end, for announcing a finish again. */
  progress: Progress;
  taskFinishedAt: Date | null;
}

/** What a content message names: its item. */
export interface ItemKey {
  roadmapId: string;
  conceptId: string;
  kind: ContentKind;
}

/** An item's final state, as the worker reached it. */
export type ItemResult =
  | {
      status: 'completed';
      content: unknown;
      provider: string;
      model: string;
      promptVersion: string;
      inputTokens: number;
      outputTokens: number;
    }
  | { status: 'failed'; error: StoredError };

/** An item to claim for the generation its message is for. */
export interface ClaimEntry {
  itemId: string;
  generation: number;
}

/** One item to finish: the item, the generation its message was for, and its result. */
export interface FinishEntry {
  itemId: string;
  generation: number;
  result: ItemResult;
  /** The messages its outcome makes (its events), written to the outbox in the same transaction. */
  announce?: (outcome: ItemOutcome) => OutboxMessage[];
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
 * The content worker's writes: content items, and the roadmap counters they drive (the task's own
 * columns through the lifecycle: its progress and completion are a fragment of the same statement). An item
 * moves to a final state once; only that transition moves the counters, so a redelivered message
 * never counts twice, and the row lock on the roadmap serialises the last items of two workers:
 * exactly one of them sees done + failed = total and completes the task.
 */
@Injectable()
export class ContentRepository {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  /**
   * Reads each item's context (its state, its task's, and what its prompt needs): one round trip
   * for a whole batch of messages (handlers delivered together read together). Changes nothing: a
   * message read this way may still wait for an LLM slot, and goes back untouched at shutdown. Null
   * for a message whose item does not exist.
   */
  async readMany(keys: readonly ItemKey[]): Promise<(ItemContext | null)[]> {
    if (keys.length === 0) return [];
    const { rows } = await sql<{
      ord: string;
      item_id: string;
      item_status: ItemStatus;
      generation: number;
      task_status: TaskStatus;
      owner: string;
      workflow_version: string;
      intent: IntentAnalysis | null;
      has_framework: boolean;
      roadmap_title: string | null;
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
      // Only the framework's title is read: the whole framework (every stage and concept) is large
      // and the item needs its own concept, which the join gives.
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS x(roadmap_id, concept_id, kind, ord)
       )
       SELECT input.ord, i.id AS item_id, i.status AS item_status, i.generation, t.status AS task_status, t.owner, t.workflow_version, r.intent,
              (r.framework IS NOT NULL AND r.framework <> 'null'::jsonb) AS has_framework, r.framework->>'title' AS roadmap_title,
              c.slug, c.title, c.summary, c.estimated_hours, c.prerequisites, c.stage_slug, c.stage_title,
              i.updated_at AS item_updated_at, i.error, r.items_done, r.items_failed, r.items_total, t.finished_at
         FROM input
         JOIN content_items i ON i.roadmap_id = input.roadmap_id AND i.concept_id = input.concept_id AND i.kind = input.kind
         JOIN concepts c ON c.id = i.concept_id
         JOIN roadmaps r ON r.id = i.roadmap_id
         JOIN tasks t ON t.id = r.task_id`,
      [keys.map((k) => k.roadmapId), keys.map((k) => k.conceptId), keys.map((k) => k.kind)],
      { prepare: true },
    );
    const byOrd = new Map(rows.map((row) => [Number(row.ord), row]));
    return keys.map((_, index) => {
      const row = byOrd.get(index + 1);
      if (!row) return null;
      return {
        itemId: row.item_id,
        itemStatus: row.item_status,
        generation: row.generation,
        taskStatus: row.task_status,
        owner: row.owner,
        workflowVersion: row.workflow_version,
        intent: row.intent,
        roadmapTitle: row.has_framework ? (row.roadmap_title ?? '') : null,
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
    });
  }

  /**
   * Claims items: each moves pending/running -> running (counting the attempt) if it is still of
   * the message's generation and not final and its task is running (its prompt's inputs were
   * checked when it was read; a regeneration moves the generation on). One statement for a batch;
   * answers by position whether each was claimed (false: it moved on since it was read — finished
   * by another delivery, regenerated, or its task cancelled). A running item is claimed again: that
   * is a redelivery after its worker stopped.
   */
  async claimMany(entries: readonly ClaimEntry[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const { rows } = await sql<{ id: string; generation: number }>(
      this.dataSource,
      `UPDATE content_items i SET status = 'running', attempts = i.attempts + 1, updated_at = now()
         FROM (SELECT DISTINCT * FROM unnest($1::uuid[], $2::int[]) AS x(item_id, generation)) x, roadmaps r, tasks t
        WHERE i.id = x.item_id AND i.generation = x.generation AND i.status IN ('pending', 'running')
          AND r.id = i.roadmap_id AND t.id = r.task_id AND t.status = 'running'
        RETURNING i.id, i.generation`,
      [entries.map((e) => e.itemId), entries.map((e) => e.generation)],
      { prepare: true },
    );
    const claimed = new Set(rows.map((row) => `${row.id}:${row.generation}`));
    return entries.map((e) => claimed.has(`${e.itemId}:${e.generation}`));
  }

  /**
   * Ends the whole task as failed with `error` (an LLM budget is spent: no further item can be made).
   * Also replaces the generic ITEMS_FAILED of a task that this item's failure just finished, so the
   * task says why. False when the task had already ended otherwise (nothing changed).
   */
  async failTask(taskId: string, roadmapId: string, error: StoredError, announce: OutboxMessage[] = []): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const updated = await this.lifecycle.failFromItems(em, taskId, error);
      await sql(em, `UPDATE roadmaps SET status = 'failed', updated_at = now() WHERE id = $1 AND status = 'generating'`, [roadmapId]);
      if (updated) await Outbox.add(em, announce);
      return updated;
    });
  }

  /**
   * Moves items of one roadmap to their final state and the counters with them, in one statement
   * (data-modifying CTEs), so the roadmap and task rows are locked only while it runs, once for the
   * whole batch: each item moves if it is of its message's generation, not yet final, and its task
   * is running; the roadmap's counters move by the items that did, and the task's progress follows
   * from the counters' new values. Concurrent statements for the same roadmap (two workers) wait on
   * the roadmap row and each sees the counters as the previous one left it, so exactly one of them
   * completes the task.
   *
   * Outcomes come back in input order. The items that moved get consecutive progress counts (as if
   * finished one after another in input order), and only the last of them reports the task's end;
   * an item that did not move (a redelivery, a second copy in the batch) reports the counters as
   * they are. What the outcomes announce (`announce`: events) goes to the outbox in the same
   * transaction, one INSERT for the batch.
   */
  async finishMany(roadmapId: string, entries: readonly FinishEntry[]): Promise<ItemOutcome[]> {
    if (entries.length === 0) return [];
    return this.dataSource.transaction(async (em) => {
      const outcomes = await this.finishIn(em, roadmapId, entries);
      await Outbox.add(em, entries.flatMap((entry, index) => entry.announce?.(outcomes[index]!) ?? []));
      return outcomes;
    });
  }

  private async finishIn(em: EntityManager, roadmapId: string, entries: readonly FinishEntry[]): Promise<ItemOutcome[]> {
    const col = <T>(pick: (r: ItemResult) => T | null) => entries.map((e) => pick(e.result));
    const done = (r: ItemResult) => (r.status === 'completed' ? r : null);
    const { rows } = await sql<{
      moved: string[] | null;
      items_done: number;
      items_failed: number;
      items_total: number;
      task_status: string | null;
      finished_at: Date | null;
      task_finished_at: Date | null;
    }>(
      em,
      `WITH input AS (
         SELECT * FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::text[])
           WITH ORDINALITY AS x(item_id, generation, status, content, provider, model, prompt_version, input_tokens, output_tokens, error, ord)
       ), picked AS (
         SELECT DISTINCT ON (item_id) * FROM input ORDER BY item_id, ord
       ), item AS (
         UPDATE content_items i SET status = p.status, updated_at = now(),
                content = CASE WHEN p.status = 'completed' THEN p.content::jsonb ELSE i.content END,
                error = CASE WHEN p.status = 'completed' THEN NULL ELSE p.error::jsonb END,
                provider = CASE WHEN p.status = 'completed' THEN p.provider ELSE i.provider END,
                model = CASE WHEN p.status = 'completed' THEN p.model ELSE i.model END,
                prompt_version = CASE WHEN p.status = 'completed' THEN p.prompt_version ELSE i.prompt_version END,
                input_tokens = CASE WHEN p.status = 'completed' THEN p.input_tokens ELSE i.input_tokens END,
                output_tokens = CASE WHEN p.status = 'completed' THEN p.output_tokens ELSE i.output_tokens END,
                completed_at = CASE WHEN p.status = 'completed' THEN now() ELSE i.completed_at END
           FROM picked p
          WHERE i.id = p.item_id AND i.roadmap_id = $1 AND i.generation = p.generation AND i.status IN ('pending', 'running')
            AND EXISTS (SELECT 1 FROM roadmaps r JOIN tasks t ON t.id = r.task_id WHERE r.id = $1 AND t.status = 'running')
         RETURNING p.ord, i.status, i.updated_at
       ), n AS (
         SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM item
       ), rm AS (
         UPDATE roadmaps r SET items_done = r.items_done + n.done, items_failed = r.items_failed + n.failed, updated_at = now(),
                status = CASE WHEN r.items_done + r.items_failed + n.done + n.failed = r.items_total AND r.status = 'generating'
                              THEN CASE WHEN r.items_failed + n.failed = 0 THEN 'completed' ELSE 'failed' END
                              ELSE r.status END,
                completed_at = CASE WHEN r.items_done + r.items_failed + n.done + n.failed = r.items_total THEN now() ELSE r.completed_at END
           FROM n WHERE r.id = $1 AND n.done + n.failed > 0
         RETURNING r.task_id, r.items_done, r.items_failed, r.items_total
       ), tk AS (
         ${TaskLifecycle.progressFromCounters('rm', roadmapResultSql('t.id'))}
       )
       SELECT (SELECT array_agg(ord::text || ':' || status ORDER BY ord) FROM item) AS moved, rm.items_done, rm.items_failed, rm.items_total,
              (SELECT status FROM tk) AS task_status, (SELECT max(updated_at) FROM item) AS finished_at, (SELECT finished_at FROM tk) AS task_finished_at
         FROM rm
       UNION ALL
       SELECT NULL, r.items_done, r.items_failed, r.items_total, NULL, NULL, NULL FROM roadmaps r WHERE r.id = $1 AND NOT EXISTS (SELECT 1 FROM item)`,
      [
        roadmapId,
        entries.map((e) => e.itemId),
        entries.map((e) => e.generation),
        col((r) => r.status),
        col((r) => (done(r) ? JSON.stringify(done(r)!.content) : null)),
        col((r) => done(r)?.provider ?? null),
        col((r) => done(r)?.model ?? null),
        col((r) => done(r)?.promptVersion ?? null),
        col((r) => done(r)?.inputTokens ?? null),
        col((r) => done(r)?.outputTokens ?? null),
        col((r) => (r.status === 'failed' ? JSON.stringify(r.error) : null)),
      ],
      { prepare: true },
    );
    const row = rows[0];
    if (!row) throw new Error(`roadmap ${roadmapId} vanished`);
    const moved = new Map((row.moved ?? []).map((m) => [Number(m.slice(0, m.indexOf(':'))) - 1, m.slice(m.indexOf(':') + 1)]));
    const finished = row.task_status === 'completed' || row.task_status === 'failed' ? row.task_status : null;
    // Counts before this batch, then one step per moved item in input order.
    let doneSoFar = row.items_done - [...moved.values()].filter((s) => s === 'completed').length;
    let failedSoFar = row.items_failed - [...moved.values()].filter((s) => s === 'failed').length;
    const last = Math.max(-1, ...moved.keys());
    return entries.map((_, index) => {
      const status = moved.get(index);
      if (status === undefined) {
        return { changed: false, progress: { done: row.items_done, failed: row.items_failed, total: row.items_total }, finished: null, finishedAt: null, taskFinishedAt: null };
      }
      if (status === 'completed') doneSoFar += 1;
      else failedSoFar += 1;
      const isLast = index === last;
      return {
        changed: true,
        progress: { done: doneSoFar, failed: failedSoFar, total: row.items_total },
        finished: isLast ? finished : null,
        finishedAt: row.finished_at,
        taskFinishedAt: isLast ? row.task_finished_at : null,
      };
    });
  }
}
