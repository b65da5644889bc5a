import { Inject, Injectable } from '@nestjs/common';
import { CONTENT_KINDS, CONTENT_STEP, SupersededError, type ContentKind, type Framework } from '@roadmap/contracts';
import { RoadmapEntity, sql, TaskEntity, WorkflowCheckpointEntity, type RevisionSource, type StoredError } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import { DataSource, type EntityManager } from 'typeorm';

export interface WorkflowRun {
  task: TaskEntity;
  roadmap: RoadmapEntity;
  checkpoints: WorkflowCheckpointEntity[];
}

export interface FannedOutItem {
  conceptId: string;
  kind: ContentKind;
}

/** The workflow worker's writes: task state while designing, roadmap framework, checkpoints, fan-out rows. */
@Injectable()
export class WorkflowRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async load(taskId: string, roadmapId: string): Promise<WorkflowRun | null> {
    const [task, roadmap, checkpoints] = await Promise.all([
      this.dataSource.getRepository(TaskEntity).findOneBy({ id: taskId }),
      this.dataSource.getRepository(RoadmapEntity).findOneBy({ id: roadmapId }),
      this.dataSource.getRepository(WorkflowCheckpointEntity).find({ where: { taskId }, order: { sequence: 'ASC' } }),
    ]);
    return task && roadmap ? { task, roadmap, checkpoints } : null;
  }

  /**
   * queued/running -> running at `step`; counts an attempt when the run (re)starts and records the
   * prompt versions of the first run. Returns the run's lease — its attempt number — which fences
   * every later write of the run: once another delivery of the message has started a newer run,
   * this one's writes are refused (SupersededError). Null when the task is no longer runnable
   * (cancelled meanwhile).
   */
  async markRunning(taskId: string, step: string, promptSet: string): Promise<number | null> {
    const { rows } = await sql<{ attempts: number }>(
      this.dataSource,
      `UPDATE tasks SET status = 'running', current_step = $2, attempts = attempts + 1, prompt_set = COALESCE(prompt_set, $3),
              started_at = COALESCE(started_at, now()), updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING attempts`,
      [taskId, step, promptSet],
    );
    return rows[0]?.attempts ?? null;
  }

  /**
   * Locks the task row for the rest of the transaction; false when it is no longer running. With a
   * lease, throws SupersededError when a newer run holds the task (checked under the same lock as
   * the write that follows, so a late write of a stale run can never land).
   */
  private async lockRunning(em: EntityManager, taskId: string, lease?: number): Promise<boolean> {
    const { rows } = await sql<{ status: string; attempts: number }>(em, `SELECT status, attempts FROM tasks WHERE id = $1 FOR UPDATE`, [taskId]);
    const row = rows[0];
    if (row?.status !== 'running') return false;
    if (lease !== undefined && row.attempts !== lease) throw new SupersededError(`run ${lease} of task ${taskId} was superseded by run ${row.attempts}`);
    return true;
  }

  /**
   * Pauses the run for a person's review: checkpoint, task `awaiting_review`, roadmap likewise. The
   * message is then acked: no worker slot is held while the person thinks.
   */
  async pauseForReview(taskId: string, roadmapId: string, sequence: number, revision: number, lease?: number): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      if (!(await this.lockRunning(em, taskId, lease))) return false;
      await sql(
        em,
        `INSERT INTO workflow_checkpoints (task_id, sequence, step, state) VALUES ($1, $2, 'review_requested', $3)
         ON CONFLICT (task_id, sequence) DO NOTHING`,
        [taskId, sequence, { revision }],
      );
      await sql(em, `UPDATE tasks SET status = 'awaiting_review', current_step = 'review', updated_at = now() WHERE id = $1`, [taskId]);
      await sql(em, `UPDATE roadmaps SET status = 'awaiting_review', updated_at = now() WHERE id = $1`, [roadmapId]);
      return true;
    });
  }

  /** A resumed task that was waiting for review waits again. */
  async awaitReviewAgain(taskId: string, roadmapId: string): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      await sql(em, `UPDATE tasks SET status = 'awaiting_review', current_step = 'review', updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`, [taskId]);
      await sql(em, `UPDATE roadmaps SET status = 'awaiting_review', updated_at = now() WHERE id = $1`, [roadmapId]);
    });
  }

  /**
   * Resumes the content phase of a fanned-out roadmap: every item not completed gets a new generation
   * and goes back to pending (completed ones are kept), counters are recomputed, and the items to
   * publish are returned. An empty list means everything was already done: the task is completed.
   * Null when the task is no longer queued or running (cancelled again meanwhile).
   */
  async resumeContent(taskId: string, roadmapId: string): Promise<Array<FannedOutItem & { generation: number }> | null> {
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
      await sql(
        em,
        `UPDATE tasks SET progress_done = $2, progress_failed = 0, progress_total = $3, current_step = $4, status = $5,
                finished_at = CASE WHEN $5 = 'completed' THEN now() END, updated_at = now() WHERE id = $1`,
        [taskId, done, total, finished ? null : CONTENT_STEP, finished ? 'completed' : 'running'],
      );
      return rows.map((r) => ({ conceptId: r.concept_id, kind: r.kind, generation: r.generation }));
    });
  }

  async setStep(taskId: string, step: string, lease?: number): Promise<void> {
    await this.dataSource.query(`UPDATE tasks SET current_step = $2, updated_at = now() WHERE id = $1 AND status = 'running' AND ($3::int IS NULL OR attempts = $3)`, [
      taskId,
      step,
      lease ?? null,
    ]);
  }

  /**
   * Records a completed step's validated output. The insert is keyed by (task, sequence) and does
   * nothing when the checkpoint exists, so a repeated step never overwrites the first result; the
   * roadmap follows only a checkpoint that was actually written. `lease` fences a stale run.
   */
  async saveCheckpoint(
    checkpoint: { taskId: string; sequence: number; step: string; state: Record<string, unknown>; promptVersion: string | null },
    roadmapUpdate: { id: string; intent?: unknown; framework?: Framework; validationIssues?: unknown },
    revision?: { number: number; source: RevisionSource; feedback: string | null; by: string | null },
    lease?: number,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      // A cancelled task gets nothing more written; the row lock orders this against the cancel.
      if (!(await this.lockRunning(em, checkpoint.taskId, lease))) return false;
      const inserted = await sql(
        em,
        `INSERT INTO workflow_checkpoints (task_id, sequence, step, state, prompt_version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (task_id, sequence) DO NOTHING RETURNING sequence`,
        [checkpoint.taskId, checkpoint.sequence, checkpoint.step, checkpoint.state, checkpoint.promptVersion],
      );
      if (inserted.rows.length === 0) return true; // a repeated step: the first result stands, roadmap included
      const sets: string[] = [];
      const values: unknown[] = [roadmapUpdate.id];
      for (const [column, value] of [
        ['intent', roadmapUpdate.intent],
        ['framework', roadmapUpdate.framework],
        ['validation_issues', roadmapUpdate.validationIssues],
      ] as const) {
        if (value !== undefined) {
          values.push(JSON.stringify(value));
          sets.push(`${column} = $${values.length}::jsonb`);
        }
      }
      if (revision && roadmapUpdate.framework) {
        await em.query(
          `INSERT INTO roadmap_revisions (roadmap_id, revision, framework, source, feedback, requested_by)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (roadmap_id, revision) DO NOTHING`,
          [roadmapUpdate.id, revision.number, JSON.stringify(roadmapUpdate.framework), revision.source, revision.feedback, revision.by],
        );
        values.push(revision.number);
        sets.push(`current_revision = GREATEST(current_revision, $${values.length})`);
      }
      if (sets.length) await em.query(`UPDATE roadmaps SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, values);
      return true;
    });
  }

  /**
   * Writes the framework's concepts and one pending item per concept and kind, and moves the task
   * to content generation, in one transaction. Re-running it (a redelivered workflow) changes
   * nothing and returns the same items.
   */
  async fanOut(taskId: string, roadmapId: string, framework: Framework, lease?: number): Promise<FannedOutItem[] | null> {
    return this.dataSource.transaction(async (em) => {
      if (!(await this.lockRunning(em, taskId, lease))) return null;
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
      const concepts: Array<{ id: string }> = await em.query(
        `SELECT id FROM concepts WHERE roadmap_id = $1 ORDER BY stage_index, position`,
        [roadmapId],
      );
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
      await em.query(
        `UPDATE tasks SET current_step = $2, progress_total = $3, updated_at = now() WHERE id = $1 AND status = 'running'`,
        [taskId, CONTENT_STEP, items.length],
      );
      return items;
    });
  }

  /** Ends the task and its roadmap as failed, unless they already ended (or a newer run than `lease` holds it). */
  async fail(taskId: string, roadmapId: string, error: StoredError, lease?: number): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const updated = await sql(
        em,
        `UPDATE tasks SET status = 'failed', error = $2::jsonb, finished_at = now(), updated_at = now()
          WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled') AND ($3::int IS NULL OR attempts = $3)`,
        [taskId, JSON.stringify(error), lease ?? null],
      );
      if (updated.count === 0) return false;
      await em.query(`UPDATE roadmaps SET status = 'failed', updated_at = now() WHERE id = $1 AND status IN ('designing', 'awaiting_review', 'generating')`, [
        roadmapId,
      ]);
      return updated.count > 0;
    });
  }
}
