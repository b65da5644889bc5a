import { Inject, Injectable } from '@nestjs/common';
import { CONTENT_KINDS, CONTENT_STEP, type ContentKind, type Framework } from '@roadmap/contracts';
import { insertRoadmaps, RoadmapEntity, roadmapResultSql, sql, type RevisionSource } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import { TaskLifecycle } from '@roadmap/workflow';
import { DataSource, type EntityManager } from 'typeorm';

export interface FannedOutItem {
  conceptId: string;
  kind: ContentKind;
}

/** A framework version to record beside a checkpoint. */
export interface Revision {
  number: number;
  source: RevisionSource;
  feedback: string | null;
  by: string | null;
}

/**
 * The roadmap workflow's own rows: roadmaps (framework, revisions, status), concepts and the content
 * items its fan-out creates. Every write here runs inside the engine's transaction for the step (a
 * checkpoint's effect), already fenced by the run's lease; the task's own columns are the lifecycle's.
 */
@Injectable()
export class RoadmapRepository {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  findRoadmap(roadmapId: string): Promise<RoadmapEntity | null> {
    return this.dataSource.getRepository(RoadmapEntity).findOneBy({ id: roadmapId });
  }

  /** New roadmap tasks' rows (a batch's children), created with their tasks. */
  admit(em: EntityManager, tasks: ReadonlyArray<{ id: string; owner: string; input: { goal: string; preferences: unknown }; roadmapId: string | null }>) {
    return insertRoadmaps(
      em,
      tasks.map((t) => ({ id: t.roadmapId!, taskId: t.id, owner: t.owner, goal: t.input.goal, preferences: t.input.preferences })),
    );
  }

  /** A step's output on the roadmap: intent, framework (with its revision) or validation issues. */
  async update(em: EntityManager, roadmapId: string, update: { intent?: unknown; framework?: Framework; validationIssues?: unknown }, revision?: Revision): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [roadmapId];
    for (const [column, value] of [
      ['intent', update.intent],
      ['framework', update.framework],
      ['validation_issues', update.validationIssues],
    ] as const) {
      if (value !== undefined) {
        values.push(JSON.stringify(value));
        sets.push(`${column} = $${values.length}::jsonb`);
      }
    }
    if (revision && update.framework) {
      await em.query(
        `INSERT INTO roadmap_revisions (roadmap_id, revision, framework, source, feedback, requested_by)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (roadmap_id, revision) DO NOTHING`,
        [roadmapId, revision.number, JSON.stringify(update.framework), revision.source, revision.feedback, revision.by],
      );
      values.push(revision.number);
      sets.push(`current_revision = GREATEST(current_revision, $${values.length})`);
    }
    if (sets.length) await em.query(`UPDATE roadmaps SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, values);
  }

  async setStatus(em: EntityManager, roadmapId: string, status: 'awaiting_review'): Promise<void> {
    await sql(em, `UPDATE roadmaps SET status = $2, updated_at = now() WHERE id = $1`, [roadmapId, status]);
  }

  /** A failed task's roadmap fails too, unless it already ended. */
  async failed(em: EntityManager, taskId: string): Promise<void> {
    await sql(em, `UPDATE roadmaps SET status = 'failed', updated_at = now() WHERE task_id = $1 AND status IN ('designing', 'awaiting_review', 'generating')`, [taskId]);
  }

  /**
   * Writes the framework's concepts and one pending item per concept and kind, and moves the task
   * to content generation, in the step's transaction. Re-running it (a redelivered workflow) changes
   * nothing and returns the same items.
   */
  async fanOut(em: EntityManager, taskId: string, roadmapId: string, framework: Framework): Promise<FannedOutItem[]> {
    const rows: unknown[][] = [];
    framework.stages.forEach((stage, stageIndex) =>
      stage.concepts.forEach((concept, position) =>
        rows.push([
          timeOrderedId(),
          concept.id,
          stage.id,
          stage.title,
          stageIndex,
          position,
          concept.title,
          concept.summary,
          concept.estimatedHours,
          JSON.stringify(concept.prerequisites),
        ]),
      ),
    );
    const column = (i: number) => rows.map((r) => r[i]);
    await em.query(
      `INSERT INTO concepts (id, roadmap_id, slug, stage_slug, stage_title, stage_index, position, title, summary, estimated_hours, prerequisites)
       SELECT u.id, $1, u.slug, u.stage_slug, u.stage_title, u.stage_index, u.position, u.title, u.summary, u.hours, u.prereq
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[], $10::real[], $11::jsonb[])
              AS u(id, slug, stage_slug, stage_title, stage_index, position, title, summary, hours, prereq)
       ON CONFLICT (roadmap_id, slug) DO NOTHING`,
      [roadmapId, ...Array.from({ length: 10 }, (_, i) => column(i))],
    );
    const concepts: Array<{ id: string }> = await em.query(`SELECT id FROM concepts WHERE roadmap_id = $1 ORDER BY stage_index, position`, [roadmapId]);
    const items = concepts.flatMap((c) => CONTENT_KINDS.map((kind) => ({ conceptId: c.id, kind })));
    await em.query(
      `INSERT INTO content_items (id, roadmap_id, concept_id, kind, status)
       SELECT u.id, $1, u.concept_id, u.kind, 'pending' FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS u(id, concept_id, kind)
       ON CONFLICT (roadmap_id, concept_id, kind) DO NOTHING`,
      [roadmapId, items.map(() => timeOrderedId()), items.map((i) => i.conceptId), items.map((i) => i.kind)],
    );
    await em.query(
      `UPDATE roadmaps SET framework = $2::jsonb, status = 'generating', items_total = $3, updated_at = now()
        WHERE id = $1 AND status IN ('designing', 'awaiting_review')`,
      [roadmapId, JSON.stringify(framework), items.length],
    );
    await this.lifecycle.beginFanOut(em, taskId, CONTENT_STEP, items.length);
    return items;
  }

  /**
   * Resumes the content phase of a fanned-out roadmap: every item not completed gets a new generation
   * and goes back to pending (completed ones are kept), counters are recomputed, and the items to
   * publish are returned (and handed to `enqueue`, in the same transaction). An empty list means
   * everything was already done: the task is completed.
   * Null when the task is no longer queued or running (cancelled again meanwhile).
   */
  async resumeContent(
    taskId: string,
    roadmapId: string,
    enqueue: (em: EntityManager, items: Array<FannedOutItem & { generation: number }>) => Promise<void>,
  ): Promise<Array<FannedOutItem & { generation: number }> | null> {
    return this.dataSource.transaction(async (em) => {
      const { rows: task } = await sql<{ status: string }>(em, `SELECT status FROM tasks WHERE id = $1 FOR UPDATE`, [taskId]);
      if (!['queued', 'running'].includes(task[0]?.status ?? '')) return null;
      const { rows } = await sql<{ concept_id: string; kind: ContentKind; generation: number }>(
        em,
        `UPDATE content_items SET status = 'pending', generation = generation + 1, attempts = 0, error = NULL, updated_at = now()
          WHERE roadmap_id = $1 AND status <> 'completed' RETURNING concept_id, kind, generation`,
        [roadmapId],
      );
      const { rows: counts } = await sql<{ done: number; total: number }>(
        em,
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS done, count(*)::int AS total FROM content_items WHERE roadmap_id = $1`,
        [roadmapId],
      );
      const { done, total } = counts[0] ?? { done: 0, total: 0 };
      const finished = rows.length === 0;
      await sql(
        em,
        `UPDATE roadmaps SET items_done = $2, items_failed = 0, items_total = $3, status = $4, completed_at = CASE WHEN $4 = 'completed' THEN now() END, updated_at = now() WHERE id = $1`,
        [roadmapId, done, total, finished ? 'completed' : 'generating'],
      );
      await this.lifecycle.restartFanOut(em, taskId, done, total, CONTENT_STEP, finished ? roadmapResultSql('$1') : undefined);
      const items = rows.map((r) => ({ conceptId: r.concept_id, kind: r.kind, generation: r.generation }));
      await enqueue(em, items);
      return items;
    });
  }
}
