import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConflictError, NotFoundError, SupersededError, type Priority, type ReviewMode, type TaskStatus } from '@roadmap/contracts';
import { counter, type Logger } from '@roadmap/observability';
import { sql, SqlParams, TaskEntity, type StoredError } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import { DataSource, type EntityManager } from 'typeorm';
import { canTransition, InvalidTransitionError, statesBefore } from './state-machine.js';

/** Where a statement runs: the pool, or an open transaction. */
export type Db = DataSource | EntityManager;

const refused = counter('roadmap_task_transitions_refused_total', 'Task state changes the state machine refused, by from and to state', ['from', 'to']);

/** A task to create. */
export interface NewTask {
  id: string;
  type: string;
  owner: string;
  priority: Priority;
  input: unknown;
  version: string;
  reviewMode: ReviewMode;
  roadmapId?: string | null;
  parentId?: string | null;
  childIndex?: number | null;
}

/** The whole task's deadlines, from its type (milliseconds after its first start). */
export interface Deadlines {
  softMs: number;
  hardMs: number;
}

const FINAL: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];
const ACTIVE: readonly TaskStatus[] = ['queued', 'running', 'awaiting_review'];

/**
 * The one owner of the task lifecycle: the only code that writes a task's status, step, progress,
 * lease (attempts), deadlines, result and error. Every status write is guarded by the states the
 * machine allows before it (state-machine.ts); a write that finds its task in another state changes
 * nothing and says so (false or null), and when that state could never lead to the wanted one the
 * refusal is logged and counted (`roadmap_task_transitions_refused_total`), never silent.
 *
 * Methods take the transaction they belong to (`db`), so a domain write (a roadmap's framework, a
 * checkpoint) and the task's change commit together.
 */
@Injectable()
export class TaskLifecycle {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Optional() @Inject(LOGGER) private readonly logger?: Logger,
  ) {}

  /** The pool, for statements outside a transaction. */
  get pool(): DataSource {
    return this.dataSource;
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  // ---- creation ---------------------------------------------------------------------------------

  /**
   * Inserts queued tasks in one statement. A child whose (parent, index) exists already is skipped:
   * creating a fan-out's children again after a crash makes neither duplicates nor gaps. Returns the
   * ids inserted.
   */
  async insert(db: Db, tasks: readonly NewTask[], createdAt = new Date()): Promise<string[]> {
    if (tasks.length === 0) return [];
    const params = new SqlParams();
    const { rows } = await sql<{ id: string }>(db, this.insertSql(params, tasks, createdAt), params.values);
    return rows.map((r) => r.id);
  }

  /** The INSERT of {@link insert} (returning the ids inserted) as a part of a larger statement. */
  insertSql(p: SqlParams, tasks: readonly NewTask[], createdAt: Date): string {
    const col = <T>(pick: (t: NewTask) => T, cast: string) => p.add(tasks.map(pick), cast);
    return `INSERT INTO tasks (id, type, status, owner, priority, input, workflow_version, review_mode, roadmap_id, parent_id, child_index, created_at, updated_at)
       SELECT id, type, 'queued', owner, priority, input::jsonb, version, review_mode, roadmap_id, parent_id, child_index, ${p.add(createdAt)}::timestamptz, ${p.add(createdAt)}::timestamptz
         FROM unnest(${col((t) => t.id, 'uuid[]')}, ${col((t) => t.type, 'text[]')}, ${col((t) => t.owner, 'text[]')}, ${col((t) => t.priority, 'text[]')},
                     ${col((t) => JSON.stringify(t.input), 'text[]')}, ${col((t) => t.version, 'text[]')}, ${col((t) => t.reviewMode, 'text[]')},
                     ${col((t) => t.roadmapId ?? null, 'uuid[]')}, ${col((t) => t.parentId ?? null, 'uuid[]')}, ${col((t) => t.childIndex ?? null, 'int[]')})
              AS x(id, type, owner, priority, input, version, review_mode, roadmap_id, parent_id, child_index)
       ON CONFLICT DO NOTHING RETURNING id`;
  }

  // ---- a person's actions (the API) ----------------------------------------------------------------

  /**
   * Moves a task from one of `from` to `to` under its row lock, for the rest of the caller's
   * transaction: a 404 when it does not exist (or is another owner's), a 409 naming its state when it
   * is in none of `from`. `from` must be allowed by the machine. A final state may carry `reason`
   * (an operator's purge cancels with PURGED). Returns the task as it was.
   */
  async act(em: EntityManager, taskId: string, from: readonly TaskStatus[], to: TaskStatus, action: string, owner?: string, reason?: StoredError): Promise<TaskEntity> {
    for (const state of from) if (!canTransition(state, to)) throw new InvalidTransitionError(taskId, state, to);
    const task = await em
      .getRepository(TaskEntity)
      .findOne({ where: owner === undefined ? { id: taskId } : { id: taskId, owner }, lock: { mode: 'pessimistic_write' } });
    if (!task) throw new NotFoundError('Task', taskId);
    if (!from.includes(task.status)) throw new ConflictError(`Task ${taskId} is ${task.status}: it cannot be ${action}`);
    const final = FINAL.includes(to);
    await sql(
      em,
      `UPDATE tasks SET status = $2, updated_at = now(),
              finished_at = CASE WHEN $3 THEN now() END,
              cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END,
              error = CASE WHEN $3 THEN coalesce($4::jsonb, error) END,
              current_step = CASE WHEN $3 THEN NULL ELSE current_step END,
              -- a resumed task gets its deadlines anew at its next start
              soft_deadline_at = CASE WHEN $2 = 'queued' THEN NULL ELSE soft_deadline_at END,
              hard_deadline_at = CASE WHEN $2 = 'queued' THEN NULL ELSE hard_deadline_at END,
              deadline_warned_at = CASE WHEN $2 = 'queued' THEN NULL ELSE deadline_warned_at END
        WHERE id = $1`,
      [taskId, to, final, reason ? JSON.stringify(reason) : null],
    );
    return task;
  }

  /**
   * Cancels those of `taskIds` that have not ended (an operator's cancel, one or many at once), under
   * their row locks taken in id order (two bulk cancels never deadlock), with `reason` as their error
   * (a purge's PURGED). Returns the ids it cancelled; the others had ended (or do not exist).
   */
  async cancelMany(em: EntityManager, taskIds: readonly string[], reason?: StoredError, owner?: string): Promise<string[]> {
    const { rows } = await sql<{ id: string }>(
      em,
      `UPDATE tasks SET status = 'cancelled', cancelled_at = now(), finished_at = now(), current_step = NULL, updated_at = now(),
              error = coalesce($3::jsonb, error)
        WHERE id IN (SELECT id FROM tasks WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[]) AND ($4::text IS NULL OR owner = $4)
                      ORDER BY id FOR UPDATE)
        RETURNING id`,
      [taskIds, statesBefore('cancelled').filter((s) => ACTIVE.includes(s)), reason ? JSON.stringify(reason) : null, owner ?? null],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Cancels the children of parents that have not ended, in the parents' transaction: a cancelled
   * batch leaves nothing running. Returns the ids cancelled (their workers are told to stop).
   */
  async cancelChildren(em: EntityManager, parentIds: string | readonly string[]): Promise<string[]> {
    const { rows } = await sql<{ id: string }>(
      em,
      `UPDATE tasks SET status = 'cancelled', cancelled_at = now(), finished_at = now(), current_step = NULL, updated_at = now()
        WHERE parent_id = ANY($1::uuid[]) AND status = ANY($2::text[]) RETURNING id`,
      [typeof parentIds === 'string' ? [parentIds] : parentIds, statesBefore('cancelled').filter((s) => ACTIVE.includes(s))],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Puts a parent's children that did not complete back in the queue (failed or cancelled ones), for
   * a resumed parent. Returns them with what their workflow message needs.
   */
  async requeueChildren(em: EntityManager, parentId: string): Promise<Array<{ id: string; type: string; priority: Priority; roadmapId: string | null }>> {
    const { rows } = await sql<{ id: string; type: string; priority: Priority; roadmap_id: string | null }>(
      em,
      `UPDATE tasks SET status = 'queued', finished_at = NULL, error = NULL, current_step = NULL, updated_at = now(),
              soft_deadline_at = NULL, hard_deadline_at = NULL, deadline_warned_at = NULL
        WHERE parent_id = $1 AND status IN ('failed', 'cancelled') RETURNING id, type, priority, roadmap_id`,
      [parentId],
    );
    return rows.map((r) => ({ id: r.id, type: r.type, priority: r.priority, roadmapId: r.roadmap_id }));
  }

  /**
   * A person regenerates some of a task's items: the task runs again (from running, completed or
   * failed) with its progress moved back by the items that go round again.
   */
  async reopenForItems(em: EntityManager, taskId: string, done: number, failed: number, step: string): Promise<void> {
    await sql(
      em,
      `UPDATE tasks SET status = 'running', progress_done = progress_done - $2, progress_failed = progress_failed - $3,
              current_step = $4, error = NULL, finished_at = NULL, updated_at = now() WHERE id = $1`,
      [taskId, done, failed, step],
    );
  }

  // ---- a run (the engine) ----------------------------------------------------------------------

  /**
   * queued/running -> running at `step`; counts an attempt and returns it: the run's lease, which
   * fences every later write of the run (a newer run's start makes this one's writes fail with
   * SupersededError). Records the prompt versions and the deadlines of the first run. Null when the
   * task is no longer runnable (cancelled meanwhile).
   */
  async start(db: Db, taskId: string, step: string, promptSet: string | null, deadlines?: Deadlines): Promise<number | null> {
    const { rows } = await sql<{ attempts: number }>(
      db,
      `UPDATE tasks SET status = 'running', current_step = $2, attempts = attempts + 1, prompt_set = COALESCE(prompt_set, $3),
              started_at = COALESCE(started_at, now()), updated_at = now(),
              soft_deadline_at = COALESCE(soft_deadline_at, now() + make_interval(secs => $4::float8 / 1000)),
              hard_deadline_at = COALESCE(hard_deadline_at, now() + make_interval(secs => $5::float8 / 1000))
        WHERE id = $1 AND status IN ('queued', 'running')
        RETURNING attempts`,
      [taskId, step, promptSet, deadlines?.softMs ?? null, deadlines?.hardMs ?? null],
    );
    if (rows[0]) return rows[0].attempts;
    await this.explain(db, taskId, 'running');
    return null;
  }

  /**
   * Locks the task row for the rest of the transaction; false when it is no longer running. With a
   * lease, throws SupersededError when a newer run holds the task (checked under the same lock as
   * the write that follows, so a late write of a stale run can never land).
   */
  async lockRunning(em: EntityManager, taskId: string, lease?: number): Promise<boolean> {
    const { rows } = await sql<{ status: string; attempts: number }>(em, `SELECT status, attempts FROM tasks WHERE id = $1 FOR UPDATE`, [taskId]);
    const row = rows[0];
    if (row?.status !== 'running') return false;
    if (lease !== undefined && row.attempts !== lease) throw new SupersededError(`run ${lease} of task ${taskId} was superseded by run ${row.attempts}`);
    return true;
  }

  /** The step a running task shows (fenced by the run's lease). */
  async setStep(db: Db, taskId: string, step: string | null, lease?: number): Promise<void> {
    await sql(db, `UPDATE tasks SET current_step = $2, updated_at = now() WHERE id = $1 AND status = 'running' AND ($3::int IS NULL OR attempts = $3)`, [
      taskId,
      step,
      lease ?? null,
    ]);
  }

  /** running -> awaiting_review: the run waits for a signal (a person's review) holding no worker slot. Call under lockRunning. */
  async awaitSignal(em: EntityManager, taskId: string, step: string): Promise<void> {
    await sql(em, `UPDATE tasks SET status = 'awaiting_review', current_step = $2, updated_at = now() WHERE id = $1 AND status = 'running'`, [taskId, step]);
  }

  /** A task resumed while it waited for a signal waits again. False when it is not queued or running any more. */
  async awaitAgain(em: EntityManager, taskId: string, step: string): Promise<boolean> {
    const { count } = await sql(
      em,
      `UPDATE tasks SET status = 'awaiting_review', current_step = $2, updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
      [taskId, step],
    );
    if (count === 0) await this.explain(em, taskId, 'awaiting_review');
    return count > 0;
  }

  /** A fan-out began: the task shows `step` and `total` children to wait for. Call under lockRunning. */
  async beginFanOut(em: EntityManager, taskId: string, step: string, total: number): Promise<void> {
    await sql(em, `UPDATE tasks SET current_step = $2, progress_total = $3, updated_at = now() WHERE id = $1 AND status = 'running'`, [taskId, step, total]);
  }

  /** A task that works through items itself (an admin bulk task): its progress. Call under lockRunning (a step's effect). */
  async setProgress(em: EntityManager, taskId: string, progress: { done: number; failed: number; total: number }): Promise<void> {
    await sql(em, `UPDATE tasks SET progress_done = $2, progress_failed = $3, progress_total = $4, updated_at = now() WHERE id = $1 AND status = 'running'`, [
      taskId,
      progress.done,
      progress.failed,
      progress.total,
    ]);
  }

  /**
   * A resumed fan-out: progress recounted (`done` of `total` kept), and the task running at `step`
   * again, or completed at once when nothing is left to do (with `result`, a SQL expression over the
   * task id `$1`). Call under the task's row lock.
   */
  async restartFanOut(em: EntityManager, taskId: string, done: number, total: number, step: string, result?: string): Promise<void> {
    const finished = done === total;
    await sql(
      em,
      `UPDATE tasks SET progress_done = $2, progress_failed = 0, progress_total = $3, current_step = $4, status = $5,
              finished_at = CASE WHEN $5 = 'completed' THEN now() END, updated_at = now()
              ${finished && result ? `, result = ${result}` : ''}
        WHERE id = $1 AND status IN ('queued', 'running')`,
      [taskId, done, total, finished ? null : step, finished ? 'completed' : 'running'],
    );
  }

  /** running -> completed with the run's typed result (fenced by its lease). False when it was not running under this lease. */
  async complete(db: Db, taskId: string, result: unknown, lease?: number): Promise<boolean> {
    const { count } = await sql(
      db,
      `UPDATE tasks SET status = 'completed', result = $2::jsonb, current_step = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'running' AND ($3::int IS NULL OR attempts = $3)`,
      [taskId, JSON.stringify(result), lease ?? null],
    );
    if (count === 0) await this.explain(db, taskId, 'completed');
    return count > 0;
  }

  /**
   * Ends a task as failed with `error`, unless it already ended (or, with a lease, a newer run holds
   * it, or it is in none of `from`). Returns the failed task's type (whose definition's rows follow,
   * see WorkflowEngine.failIn) and its run count, null when nothing changed.
   */
  async fail(db: Db, taskId: string, error: StoredError, lease?: number, from: readonly TaskStatus[] = ACTIVE): Promise<{ type: string; attempts: number } | null> {
    const { rows } = await sql<{ type: string; attempts: number }>(
      db,
      `UPDATE tasks SET status = 'failed', error = $2::jsonb, current_step = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1 AND status = ANY($4::text[]) AND ($3::int IS NULL OR attempts = $3) RETURNING type, attempts`,
      [taskId, JSON.stringify(error), lease ?? null, from.filter((s) => canTransition(s, 'failed'))],
    );
    if (rows.length === 0 && lease === undefined) await this.explain(db, taskId, 'failed');
    return rows[0] ?? null;
  }

  /**
   * Ends a running task as failed because of its items (an LLM budget is spent: no further item can
   * be made). Also replaces the generic ITEMS_FAILED of a task that an item's failure just finished,
   * so the task says why. False when the task had already ended otherwise.
   */
  async failFromItems(db: Db, taskId: string, error: StoredError): Promise<boolean> {
    const { count } = await sql(
      db,
      `UPDATE tasks SET status = 'failed', error = $2::jsonb, current_step = NULL, finished_at = coalesce(finished_at, now()), updated_at = now()
        WHERE id = $1 AND (status = 'running' OR (status = 'failed' AND error->>'code' = 'ITEMS_FAILED'))`,
      [taskId, JSON.stringify(error)],
    );
    return count > 0;
  }

  /** The reaper re-published a stuck task's command for the `redrive`-th time. */
  async countRedrive(em: EntityManager, taskId: string, redrive: number): Promise<void> {
    await sql(em, `UPDATE tasks SET redrives = $2, updated_at = now() WHERE id = $1`, [taskId, redrive]);
  }

  /**
   * Tasks past their soft deadline, not yet warned: marked warned (once) and returned. Their work
   * goes on; the warning is for people and alerts.
   */
  async warnDeadlines(db: Db, limit = 100): Promise<Array<{ id: string; type: string; current_step: string | null }>> {
    const { rows } = await sql<{ id: string; type: string; current_step: string | null }>(
      db,
      `UPDATE tasks SET deadline_warned_at = now() WHERE id IN (
         SELECT id FROM tasks WHERE status IN ('queued', 'running') AND soft_deadline_at < now() AND deadline_warned_at IS NULL LIMIT $1
       ) RETURNING id, type, current_step`,
      [limit],
    );
    return rows;
  }

  /**
   * The tasks-table part of completing items in one statement: given a CTE `counters` that returns
   * (task_id, items_done, items_failed, items_total) after the items moved, the task's progress
   * follows, and when every item is final the task completes (with `result`, a SQL expression over
   * `t`, the task row) or fails with ITEMS_FAILED. Returns the CTE body, to be named by the caller;
   * it returns (status, finished_at) of a task this statement ended.
   */
  static progressFromCounters(counters: string, result: string): string {
    return `UPDATE tasks t SET progress_done = c.items_done, progress_failed = c.items_failed, updated_at = now(),
                status = CASE WHEN c.items_done + c.items_failed = c.items_total
                              THEN CASE WHEN c.items_failed = 0 THEN 'completed' ELSE 'failed' END
                              ELSE t.status END,
                finished_at = CASE WHEN c.items_done + c.items_failed = c.items_total THEN now() ELSE t.finished_at END,
                current_step = CASE WHEN c.items_done + c.items_failed = c.items_total THEN NULL ELSE t.current_step END,
                result = CASE WHEN c.items_done + c.items_failed = c.items_total AND c.items_failed = 0 THEN ${result} ELSE t.result END,
                error = CASE WHEN c.items_done + c.items_failed = c.items_total AND c.items_failed > 0
                             THEN jsonb_build_object('code', 'ITEMS_FAILED', 'message', c.items_failed || ' of ' || c.items_total || ' content items failed')
                             ELSE t.error END
           FROM ${counters} c WHERE t.id = c.task_id AND t.status = 'running'
         RETURNING t.status, t.finished_at`;
  }

  /**
   * Says why a guarded write changed nothing: when the task's state could never lead to `to`, the
   * refusal is logged and counted; an ended task asked again (a redelivery) is not an error.
   */
  private async explain(db: Db, taskId: string, to: TaskStatus): Promise<void> {
    const { rows } = await sql<{ status: TaskStatus }>(db, `SELECT status FROM tasks WHERE id = $1`, [taskId]);
    const from = rows[0]?.status;
    if (!from || from === to || canTransition(from, to)) return;
    refused.inc({ from, to });
    this.logger?.warn({ taskId, from, to }, `task state change refused: ${from} -> ${to} is not a transition of the task state machine`);
  }
}
