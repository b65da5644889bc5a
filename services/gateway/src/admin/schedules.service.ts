import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppError, MAINTENANCE_JOBS, NotFoundError, PRIORITIES, REVIEW_MODES, ValidationError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { CATCHUP_POLICIES, nextOccurrences, OVERLAP_POLICIES, parseCron, type ScheduleDefinitionRow } from '@roadmap/workflow';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { MaintenanceService } from '../maintenance/maintenance.service.js';
import { TaskTypes } from '../tasks/task-types.js';

/** How many coming occurrences a schedule's view shows. */
const NEXT_RUNS = 5;
const BUILTIN_PREFIX = 'builtin:';

const fields = {
  name: z.string().trim().min(1).max(100),
  cron: z.string().trim().min(1).max(200),
  timezone: z.string().trim().min(1).max(100),
  type: z.string().min(1).max(100),
  input: z.unknown(),
  owner: z.string().trim().min(1).max(200),
  priority: z.enum(PRIORITIES),
  review: z.enum(REVIEW_MODES),
  overlap: z.enum(OVERLAP_POLICIES),
  catchup: z.enum(CATCHUP_POLICIES),
};
export const CreateScheduleSchema = z.strictObject({
  ...fields,
  timezone: fields.timezone.optional(),
  owner: fields.owner.optional(),
  priority: fields.priority.optional(),
  review: fields.review.optional(),
  overlap: fields.overlap.optional(),
  catchup: fields.catchup.optional(),
  paused: z.boolean().optional(),
});
export const UpdateScheduleSchema = z
  .strictObject(fields)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one field to change');
export const RunsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(40).optional(),
});
export type CreateSchedule = z.infer<typeof CreateScheduleSchema>;
export type UpdateSchedule = z.infer<typeof UpdateScheduleSchema>;

interface ScheduleRow extends ScheduleDefinitionRow {
  name: string;
  paused: boolean;
  paused_by: string | null;
  paused_at: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

interface RunRow {
  id: string;
  schedule_id: string;
  occurrence_at: Date;
  fired_at: Date;
  outcome: string;
  task_id: string | null;
  error: { code: string; message: string } | null;
}

interface MaintenanceRunRow {
  id: string;
  instance: string;
  started_at: Date;
  finished_at: Date | null;
  outcome: BuiltinRunOutcome;
  detail: Record<string, unknown>;
}

/** The outcomes of a built-in job's run, as `maintenance_runs` records them (not a schedule's started|skipped|queued|failed). */
export const BUILTIN_RUN_OUTCOMES = ['running', 'ok', 'error', 'abandoned'] as const;
type BuiltinRunOutcome = (typeof BUILTIN_RUN_OUTCOMES)[number];

/** A built-in (maintenance) job shown among the schedules: read-only. */
export class BuiltinScheduleError extends AppError {
  constructor(id: string) {
    super('BUILTIN_SCHEDULE', `${id} is a built-in maintenance job: it is configured by the workflow worker's settings, not edited here`, {
      status: 409,
      details: [{ field: 'id', message: 'built-in schedules are read-only' }],
    });
  }
}

/**
 * Operator schedules (issue 20, item 6): cron schedules that start tasks of any registered type with
 * a fixed input. The gateway keeps the `schedules` rows; the workflow workers fire them and record
 * each occurrence in `schedule_runs`, read here. The maintenance jobs are listed too, read-only.
 */
@Injectable()
export class SchedulesService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  /** Every schedule (name order), then the built-in maintenance jobs. */
  async list() {
    const { rows } = await sql<ScheduleRow>(this.dataSource, `SELECT * FROM schedules ORDER BY name LIMIT 1000`);
    const last = await this.lastRuns(rows.map((r) => r.id));
    return { items: [...rows.map((r) => view(r, last.get(r.id) ?? null)), ...(await this.builtins())] };
  }

  async get(id: string) {
    if (id.startsWith(BUILTIN_PREFIX)) {
      const found = (await this.builtins()).find((b) => b.id === id);
      if (!found) throw new NotFoundError('Schedule', id);
      return found;
    }
    const row = await this.find(id);
    return view(row, (await this.lastRuns([id])).get(id) ?? null);
  }

  async create(body: CreateSchedule, actor: string) {
    const checked = this.check(body);
    const id = randomUUID();
    await this.unique(() =>
      sql(
        this.dataSource,
        `INSERT INTO schedules (id, name, cron, timezone, task_type, input, owner, priority, review_mode, overlap, catchup, paused, paused_by, paused_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, CASE WHEN $12 THEN $13 END, CASE WHEN $12 THEN now() END, $13)`,
        [
          id,
          body.name,
          body.cron,
          checked.timezone,
          body.type,
          JSON.stringify(checked.input),
          body.owner ?? actor,
          body.priority ?? 'normal',
          body.review ?? 'skip',
          body.overlap ?? 'skip',
          body.catchup ?? 'none',
          body.paused ?? false,
          actor,
        ],
      ),
    );
    return this.get(id);
  }

  /** Changes the given fields; a new cron or time zone counts occurrences from now on. */
  async update(id: string, patch: UpdateSchedule) {
    if (id.startsWith(BUILTIN_PREFIX)) throw new BuiltinScheduleError(id);
    const row = await this.find(id);
    const merged = {
      cron: patch.cron ?? row.cron,
      timezone: patch.timezone ?? row.timezone,
      type: patch.type ?? row.task_type,
      input: 'input' in patch ? patch.input : row.input,
    };
    const checked = this.check(merged);
    const retimed = merged.cron !== row.cron || merged.timezone !== row.timezone;
    await this.unique(() =>
      sql(
        this.dataSource,
        `UPDATE schedules SET name = $2, cron = $3, timezone = $4, task_type = $5, input = $6::jsonb, owner = $7, priority = $8, review_mode = $9,
                overlap = $10, catchup = $11, anchor_at = CASE WHEN $12 THEN now() ELSE anchor_at END, updated_at = now()
          WHERE id = $1`,
        [
          id,
          patch.name ?? row.name,
          merged.cron,
          merged.timezone,
          merged.type,
          JSON.stringify(checked.input),
          patch.owner ?? row.owner,
          patch.priority ?? row.priority,
          patch.review ?? row.review_mode,
          patch.overlap ?? row.overlap,
          patch.catchup ?? row.catchup,
          retimed,
        ],
      ),
    );
    return this.get(id);
  }

  async remove(id: string) {
    if (id.startsWith(BUILTIN_PREFIX)) throw new BuiltinScheduleError(id);
    const { rows } = await sql<{ name: string }>(this.dataSource, `DELETE FROM schedules WHERE id = $1 RETURNING name`, [id]);
    if (!rows[0]) throw new NotFoundError('Schedule', id);
    return { id, name: rows[0].name, deleted: true };
  }

  async pause(id: string, by: string) {
    return this.setPaused(id, true, by);
  }

  /** Resumed: occurrences count from now, what fell due while paused is not caught up. */
  async resume(id: string) {
    return this.setPaused(id, false, null);
  }

  /**
   * Occurrences dealt with, newest first (`limit` at a time, `nextCursor` continues). A built-in job's
   * runs come from `maintenance_runs`, in the same shape with the job's own outcomes.
   */
  async runs(id: string, query: z.infer<typeof RunsQuerySchema>) {
    if (id.startsWith(BUILTIN_PREFIX)) return this.builtinRuns(id.slice(BUILTIN_PREFIX.length), query);
    await this.find(id);
    const params: unknown[] = [id, query.limit + 1];
    const before = query.cursor ? `AND id < $${params.push(decodeCursor(query.cursor))}` : '';
    const { rows } = await sql<RunRow>(
      this.dataSource,
      `SELECT id::text, schedule_id, occurrence_at, fired_at, outcome, task_id::text, error FROM schedule_runs
        WHERE schedule_id = $1 ${before} ORDER BY id DESC LIMIT $2`,
      params,
    );
    return page(rows, query.limit, runView);
  }

  private async builtinRuns(job: string, query: z.infer<typeof RunsQuerySchema>) {
    if (!(MAINTENANCE_JOBS as readonly string[]).includes(job)) throw new NotFoundError('Schedule', `${BUILTIN_PREFIX}${job}`);
    const params: unknown[] = [job, query.limit + 1];
    const before = query.cursor ? `AND id < $${params.push(decodeCursor(query.cursor))}` : '';
    const { rows } = await sql<MaintenanceRunRow>(
      this.dataSource,
      `SELECT id::text, instance, started_at, finished_at, outcome, detail FROM maintenance_runs
        WHERE job = $1 ${before} ORDER BY id DESC LIMIT $2`,
      params,
    );
    return page(rows, query.limit, builtinRunView);
  }

  private async setPaused(id: string, paused: boolean, by: string | null) {
    if (id.startsWith(BUILTIN_PREFIX)) throw new BuiltinScheduleError(id);
    const { rows } = await sql(
      this.dataSource,
      `UPDATE schedules SET paused = $2, paused_by = $3, paused_at = CASE WHEN $2 THEN coalesce(CASE WHEN paused THEN paused_at END, now()) END,
              anchor_at = CASE WHEN paused AND NOT $2 THEN now() ELSE anchor_at END, updated_at = now()
        WHERE id = $1 RETURNING id`,
      [id, paused, by],
    );
    if (!rows[0]) throw new NotFoundError('Schedule', id);
    return this.get(id);
  }

  /** The cron, time zone, type and input as POST /tasks would take them: 400 naming the field otherwise. */
  private check(body: { cron: string; timezone?: string; type: string; input: unknown }) {
    const timezone = body.timezone ?? 'UTC';
    parseCron(body.cron, timezone);
    const types = this.moduleRef.get(TaskTypes, { strict: false });
    return { timezone, input: types.parseInput(types.get(body.type), body.input) };
  }

  private async find(id: string): Promise<ScheduleRow> {
    const { rows } = await sql<ScheduleRow>(this.dataSource, `SELECT * FROM schedules WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError('Schedule', id);
    return rows[0];
  }

  private async lastRuns(ids: readonly string[]): Promise<Map<string, RunRow>> {
    if (ids.length === 0) return new Map();
    const { rows } = await sql<RunRow>(
      this.dataSource,
      `SELECT r.* FROM unnest($1::uuid[]) AS s(id)
         CROSS JOIN LATERAL (SELECT id::text, schedule_id, occurrence_at, fired_at, outcome, task_id::text, error FROM schedule_runs
                              WHERE schedule_id = s.id ORDER BY occurrence_at DESC LIMIT 1) r`,
      [ids],
    );
    return new Map(rows.map((r) => [r.schedule_id, r]));
  }

  /** The maintenance jobs, as GET /api/v1/admin/maintenance reports them (interval, last and next run). */
  private async builtins() {
    const { jobs } = await this.moduleRef.get(MaintenanceService, { strict: false }).list(1);
    return jobs.map((job) => ({
      id: `${BUILTIN_PREFIX}${job.job}`,
      name: job.job,
      builtin: true as const,
      intervalSeconds: job.intervalSeconds,
      paused: false,
      lastRunAt: job.runs[0]?.startedAt ?? null,
      lastOutcome: job.runs[0]?.outcome ?? null,
      lastSuccessAt: job.lastSuccessAt,
      nextRuns: job.nextDueAt ? [job.nextDueAt] : [],
    }));
  }

  /** The unique name taken: 409 SCHEDULE_NAME_TAKEN naming the field. */
  private async unique<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      const driver = (error as { driverError?: { code?: string; constraint?: string } }).driverError ?? (error as { code?: string; constraint?: string });
      if (driver?.code === '23505') {
        throw new AppError('SCHEDULE_NAME_TAKEN', 'A schedule with this name exists already', { status: 409, details: [{ field: 'name', message: 'taken' }] });
      }
      throw error;
    }
  }
}

function view(row: ScheduleRow, last: RunRow | null) {
  return {
    id: row.id,
    name: row.name,
    builtin: false as const,
    cron: row.cron,
    timezone: row.timezone,
    type: row.task_type,
    input: row.input,
    owner: row.owner,
    priority: row.priority,
    review: row.review_mode,
    overlap: row.overlap,
    catchup: row.catchup,
    paused: row.paused,
    pausedBy: row.paused_by,
    pausedAt: row.paused_at?.toISOString() ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    // A paused schedule has no coming runs until it is resumed.
    nextRuns: row.paused ? [] : nextOccurrences(parseCron(row.cron, row.timezone), NEXT_RUNS, new Date()).map((d) => d.toISOString()),
    lastRun: last && runView(last),
  };
}

function runView(row: RunRow) {
  return {
    id: row.id,
    occurrenceAt: row.occurrence_at.toISOString(),
    firedAt: row.fired_at.toISOString(),
    outcome: row.outcome,
    taskId: row.task_id,
    error: row.error,
  };
}

/**
 * A maintenance run as a schedule run: the job runs on an interval, so its occurrence is when it
 * started. Its outcome keeps the job's vocabulary (BUILTIN_RUN_OUTCOMES); an `error` or `abandoned`
 * run carries the reason as `error`, an `ok` one its rows and details.
 */
function builtinRunView(row: MaintenanceRunRow) {
  const startedAt = row.started_at.toISOString();
  const reason = typeof row.detail.error === 'string' ? row.detail.error : typeof row.detail.reason === 'string' ? row.detail.reason : row.outcome;
  return {
    id: row.id,
    occurrenceAt: startedAt,
    firedAt: startedAt,
    outcome: row.outcome,
    taskId: null,
    error: row.outcome === 'error' ? { code: 'MAINTENANCE_FAILED', message: reason } : row.outcome === 'abandoned' ? { code: 'MAINTENANCE_ABANDONED', message: reason } : null,
    instance: row.instance,
    finishedAt: row.finished_at?.toISOString() ?? null,
    durationMs: row.finished_at ? row.finished_at.getTime() - row.started_at.getTime() : null,
    rows: typeof row.detail.rows === 'number' ? row.detail.rows : null,
    detail: row.detail,
  };
}

/** One page of rows fetched with `limit + 1`: the extra row says there is more, from the last id shown. */
function page<R extends { id: string }, V>(rows: readonly R[], limit: number, map: (row: R) => V) {
  const shown = rows.slice(0, limit);
  return {
    items: shown.map(map),
    nextCursor: rows.length > limit ? Buffer.from(shown[shown.length - 1]!.id).toString('base64url') : null,
  };
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw new ValidationError('cursor is not one this API returned', [{ field: 'cursor', message: 'invalid cursor' }]);
  return id;
}
