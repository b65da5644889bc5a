import { AppError, type TaskStatus } from '@roadmap/contracts';
import { counter, histogram, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import {
  admitTasks,
  dueOccurrence,
  overlapDecision,
  parseCron,
  SCHEDULE_RUN_OUTCOMES,
  type NewTask,
  type ScheduleDefinitionRow,
  type ScheduleRunOutcome,
  type TaskLifecycle,
  type WorkflowRegistry,
} from '@roadmap/workflow';
import type { DataSource, EntityManager } from 'typeorm';
import { Poller } from './poller.js';

export const scheduleRuns = counter('roadmap_schedule_runs_total', 'Occurrences of operator schedules dealt with, by outcome (started, skipped, queued, failed)', [
  'outcome',
]);
export const scheduleDelay = histogram(
  'roadmap_schedule_start_delay_seconds',
  'Time from a schedule occurrence to the admission of its task',
  [],
  [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
);

export interface ScheduleRunnerOptions {
  /** DATABASE_SCHEMA: part of the per-schedule lock key. */
  readonly schema: string;
  /** SCHEDULES_POLL_MS: how often this process looks for due occurrences. */
  readonly pollMs: number;
  /** SCHEDULES_MISFIRE_GRACE_SECONDS, in ms: how late an occurrence still starts under `catchup: none`. */
  readonly graceMs: number;
  /** Who fired an occurrence (host:pid), recorded with each run. */
  readonly instance: string;
  /** SCHEDULES_ENABLED: false leaves this process out. */
  readonly enabled?: boolean;
}

interface ScheduleRow extends ScheduleDefinitionRow {
  after: Date;
  now: Date;
  queued_id: string | null;
  previous_status: TaskStatus | null;
}

const FINAL: readonly string[] = ['completed', 'failed', 'cancelled'];
/** Actions on one schedule per poll: start the waiting occurrence, then deal with a new one. */
const MAX_ACTIONS_PER_POLL = 3;

/**
 * Fires operator schedules (the `schedules` table) in the workflow worker, beside the maintenance
 * scheduler. Every replica polls; each occurrence is dealt with once: under a per-schedule
 * transaction lock (so replicas do not decide against each other) a `schedule_runs` row unique on
 * (schedule, occurrence) is inserted in the same transaction that admits the task through the
 * lifecycle and the outbox (`admitTasks`): a race or a retry can never start two tasks for one
 * occurrence, and a crash before the commit leaves neither row nor task.
 */
export class ScheduleRunner extends Poller {
  private readonly crons = new Map<string, ReturnType<typeof parseCron>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly lifecycle: TaskLifecycle,
    private readonly registry: WorkflowRegistry,
    logger: Logger,
    private readonly options: ScheduleRunnerOptions,
  ) {
    super(logger, { pollMs: options.pollMs, enabled: options.enabled, disabledMessage: 'SCHEDULES_ENABLED is false: this process fires no schedules' });
  }

  protected started(): void {
    this.logger.info({ pollMs: this.options.pollMs }, 'schedules on');
    // Every outcome exported from the start: the first failure is then an increase from 0 that
    // RoadmapScheduleRunsFailing sees, not a new series that increase() cannot.
    for (const outcome of SCHEDULE_RUN_OUTCOMES) scheduleRuns.inc({ outcome }, 0);
  }

  /** One poll: every active schedule with a due occurrence or a waiting one is dealt with. */
  async tick(): Promise<void> {
    let candidates: ScheduleRow[];
    try {
      candidates = await this.read(this.dataSource);
    } catch (error) {
      this.logger.warn({ err: error }, 'schedules: reading the schedules failed');
      return;
    }
    for (const row of candidates) {
      if (this.stopping) return;
      try {
        // A waiting occurrence needs a look only once the task before it has ended.
        const waiting = row.queued_id !== null && !isActive(row.previous_status);
        if (!waiting && !this.due(row)) continue;
        for (let i = 0; i < MAX_ACTIONS_PER_POLL && (await this.runOne(row.id)); i++);
      } catch (error) {
        this.logger.warn({ err: error, scheduleId: row.id }, 'schedules: could not deal with a schedule');
      }
    }
  }

  /** Deals with one thing of one schedule under its lock; false when there was nothing to do (or another runner holds it). */
  async runOne(scheduleId: string): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const { rows: lock } = await sql<{ locked: boolean }>(em, `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [
        `roadmap-schedule:${this.options.schema}:${scheduleId}`,
      ]);
      if (!lock[0]?.locked) return false;
      const [row] = await this.read(em, scheduleId);
      if (!row) return false;
      const previousActive = isActive(row.previous_status);
      if (row.queued_id && !previousActive) {
        await this.fire(em, row, { queuedId: row.queued_id });
        return true;
      }
      const due = this.due(row);
      if (!due) return false;
      const decision = overlapDecision(row.overlap, previousActive, row.queued_id !== null);
      if (decision === 'start') await this.fire(em, row, { occurrence: due });
      else await this.record(em, row.id, due, decision === 'queue' ? 'queued' : 'skipped', null, decision === 'skip' ? skipReason(row) : null);
      return true;
    });
  }

  /** The occurrence to fire now, if any (a missed one under `catchup: none` is dropped). */
  private due(row: ScheduleRow): Date | null {
    let cron = this.crons.get(`${row.timezone} ${row.cron}`);
    if (!cron) {
      cron = parseCron(row.cron, row.timezone);
      this.crons.set(`${row.timezone} ${row.cron}`, cron);
    }
    const due = dueOccurrence({ cron, after: row.after, now: row.now, catchup: row.catchup, graceMs: this.options.graceMs });
    return due && 'fire' in due ? due.fire : null;
  }

  /**
   * Admits the schedule's task with its run row in one savepoint of the locked transaction; an
   * admission that fails (the type is no longer served, the input no longer valid) is recorded `failed`.
   */
  private async fire(em: EntityManager, row: ScheduleRow, what: { occurrence: Date } | { queuedId: string }): Promise<void> {
    const taskId = timeOrderedId();
    try {
      const occurrence = await em.transaction(async (inner) => {
        const at = 'occurrence' in what ? await this.claim(inner, row.id, what.occurrence, taskId) : await this.promote(inner, what.queuedId, taskId);
        if (!at) return null;
        const definition = this.registry.get(row.task_type);
        const task: NewTask = {
          id: taskId,
          type: row.task_type,
          owner: row.owner,
          priority: row.priority,
          input: definition.contract.input.parse(row.input),
          version: definition.contract.version,
          reviewMode: row.review_mode,
          roadmapId: definition.hasRoadmap ? timeOrderedId() : null,
        };
        await admitTasks(this.lifecycle, inner, [task], { rows: definition.admit && ((db, admitted) => definition.admit!(db, [...admitted] as never)) });
        return at;
      });
      if (!occurrence) return;
      scheduleRuns.inc({ outcome: 'started' });
      scheduleDelay.observe((Date.now() - occurrence.getTime()) / 1000);
      this.logger.info({ scheduleId: row.id, taskId, type: row.task_type, occurrence }, 'schedule fired: task admitted');
    } catch (error) {
      const failure = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: String((error as Error)?.message ?? error) };
      this.logger.error({ err: error, scheduleId: row.id }, 'schedule fired: the task could not be admitted');
      if ('occurrence' in what) await this.record(em, row.id, what.occurrence, 'failed', null, failure);
      else {
        await sql(em, `UPDATE schedule_runs SET outcome = 'failed', error = $2::jsonb, fired_at = now() WHERE id = $1 AND outcome = 'queued'`, [what.queuedId, JSON.stringify(failure)]);
        scheduleRuns.inc({ outcome: 'failed' });
      }
    }
  }

  /** The occurrence's row, inserted once: null when it exists already (another runner, an earlier poll). */
  private async claim(em: EntityManager, scheduleId: string, occurrence: Date, taskId: string): Promise<Date | null> {
    const { rows } = await sql(
      em,
      `INSERT INTO schedule_runs (schedule_id, occurrence_at, outcome, task_id, instance) VALUES ($1, $2, 'started', $3, $4)
       ON CONFLICT (schedule_id, occurrence_at) DO NOTHING RETURNING id`,
      [scheduleId, occurrence, taskId, this.options.instance],
    );
    return rows.length ? occurrence : null;
  }

  /** The waiting occurrence started: its row moves from queued to started, once. */
  private async promote(em: EntityManager, runId: string, taskId: string): Promise<Date | null> {
    const { rows } = await sql<{ occurrence_at: Date }>(
      em,
      `UPDATE schedule_runs SET outcome = 'started', task_id = $2, fired_at = now(), instance = $3 WHERE id = $1 AND outcome = 'queued' RETURNING occurrence_at`,
      [runId, taskId, this.options.instance],
    );
    return rows[0]?.occurrence_at ?? null;
  }

  private async record(em: EntityManager, scheduleId: string, occurrence: Date, outcome: ScheduleRunOutcome, taskId: string | null, error: object | null): Promise<void> {
    const { rows } = await sql(
      em,
      `INSERT INTO schedule_runs (schedule_id, occurrence_at, outcome, task_id, error, instance) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (schedule_id, occurrence_at) DO NOTHING RETURNING id`,
      [scheduleId, occurrence, outcome, taskId, error && JSON.stringify(error), this.options.instance],
    );
    if (rows.length) scheduleRuns.inc({ outcome });
  }

  /** Active schedules (or one) with what the runner decides on: the last occurrence dealt with, the waiting one, the previous task's status. */
  private async read(db: DataSource | EntityManager, id?: string): Promise<ScheduleRow[]> {
    const { rows } = await sql<ScheduleRow>(
      db,
      `SELECT s.id, s.cron, s.timezone, s.task_type, s.input, s.owner, s.priority, s.review_mode, s.overlap, s.catchup,
              greatest(s.anchor_at, (SELECT max(r.occurrence_at) FROM schedule_runs r WHERE r.schedule_id = s.id)) AS after,
              clock_timestamp() AS now,
              (SELECT r.id::text FROM schedule_runs r WHERE r.schedule_id = s.id AND r.outcome = 'queued' LIMIT 1) AS queued_id,
              (SELECT t.status FROM schedule_runs r JOIN tasks t ON t.id = r.task_id
                WHERE r.schedule_id = s.id AND r.outcome = 'started' ORDER BY r.occurrence_at DESC LIMIT 1) AS previous_status
         FROM schedules s WHERE NOT s.paused ${id ? 'AND s.id = $1' : ''}`,
      id ? [id] : [],
    );
    return rows;
  }
}

/** Whether the previous run's task is still unfinished (none: not active). */
function isActive(status: TaskStatus | null): boolean {
  return status !== null && !FINAL.includes(status);
}

function skipReason(row: ScheduleRow): { code: string; message: string } {
  return row.overlap === 'queue'
    ? { code: 'OVERLAP', message: 'the previous run is still in progress and an occurrence already waits for it' }
    : { code: 'OVERLAP', message: 'the previous run is still in progress' };
}
