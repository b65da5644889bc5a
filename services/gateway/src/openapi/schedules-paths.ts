import { PRIORITIES, REVIEW_MODES } from '@roadmap/contracts';
import { CATCHUP_POLICIES, OVERLAP_POLICIES, SCHEDULE_RUN_OUTCOMES } from '@roadmap/workflow';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { BUILTIN_RUN_OUTCOMES, CreateScheduleSchema, RunsQuerySchema, UpdateScheduleSchema } from '../admin/schedules.service.js';
import { body, errors, json, op } from './operations.js';

/* Operator schedules (issue 20, item 6): cron schedules that start tasks, and the maintenance jobs beside them. */

const instant = z.iso.datetime({ offset: true });
const admin = { admin: true };
const scheduleId = z.object({
  id: z.string().meta({ description: 'A schedule id (UUID), or builtin:<job> for a maintenance job', example: 'builtin:reaper' }),
});

const ScheduleRunSchema = z
  .object({
    id: z.string(),
    occurrenceAt: instant.meta({ description: 'The occurrence of the cron expression this run is for' }),
    firedAt: instant.meta({ description: 'When a runner dealt with it (for a queued one that started later: when it started)' }),
    outcome: z.enum(SCHEDULE_RUN_OUTCOMES),
    taskId: z.uuid().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why it was skipped or failed' }),
  })
  .meta({ id: 'ScheduleRun' });

const BuiltinScheduleRunSchema = z
  .object({
    id: z.string(),
    occurrenceAt: instant.meta({ description: 'When the run started (a built-in job runs on an interval, not a cron expression)' }),
    firedAt: instant.meta({ description: 'When the run started' }),
    outcome: z.enum(BUILTIN_RUN_OUTCOMES).meta({ description: "The job's own outcome: running, ok, error, abandoned (its runner stopped mid-run)" }),
    taskId: z.uuid().nullable().meta({ description: 'Always null: a built-in job starts no task' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'MAINTENANCE_FAILED or MAINTENANCE_ABANDONED with the reason' }),
    instance: z.string().meta({ description: 'The workflow worker that ran it' }),
    finishedAt: instant.nullable(),
    durationMs: z.number().int().nullable(),
    rows: z.number().int().nullable().meta({ description: 'Rows the job deleted, moved or changed (an ok run)' }),
    detail: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'BuiltinScheduleRun', description: 'A run of a built-in maintenance job (from GET /api/v1/admin/maintenance), in the shape of a schedule run' });

const ScheduleSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    builtin: z.literal(false),
    cron: z.string(),
    timezone: z.string(),
    type: z.string(),
    input: z.unknown(),
    owner: z.string().meta({ description: 'Whom the tasks run as' }),
    priority: z.enum(PRIORITIES),
    review: z.enum(REVIEW_MODES),
    overlap: z.enum(OVERLAP_POLICIES),
    catchup: z.enum(CATCHUP_POLICIES),
    paused: z.boolean(),
    pausedBy: z.string().nullable(),
    pausedAt: instant.nullable(),
    createdBy: z.string(),
    createdAt: instant,
    updatedAt: instant,
    nextRuns: z.array(instant).meta({ description: 'The next five occurrences, computed in the time zone (none while paused)' }),
    lastRun: ScheduleRunSchema.nullable(),
  })
  .meta({ id: 'Schedule' });

const BuiltinScheduleSchema = z
  .object({
    id: z.string().meta({ example: 'builtin:reaper' }),
    name: z.string(),
    builtin: z.literal(true),
    intervalSeconds: z.number().int().nullable(),
    paused: z.literal(false),
    lastRunAt: instant.nullable(),
    lastOutcome: z.string().nullable(),
    lastSuccessAt: instant.nullable(),
    nextRuns: z.array(instant).meta({ description: 'When the job is due next (none before its first run)' }),
  })
  .meta({ id: 'BuiltinSchedule', description: 'A maintenance job of the workflow workers (GET /api/v1/admin/maintenance): read-only' });

const AnySchedule = z.union([ScheduleSchema, BuiltinScheduleSchema]);

const example = {
  id: '0b9f6f0e-6a54-4a8e-9d55-3f1f0a2b7c11',
  name: 'nightly-go-roadmap',
  builtin: false,
  cron: '0 3 * * *',
  timezone: 'Europe/Berlin',
  type: 'roadmap.generate',
  input: { goal: 'Learn Go' },
  owner: 'ops',
  priority: 'low',
  review: 'skip',
  overlap: 'skip',
  catchup: 'latest',
  paused: false,
  pausedBy: null,
  pausedAt: null,
  createdBy: 'ops',
  createdAt: '2026-12-07T10:00:00.000Z',
  updatedAt: '2026-12-07T10:00:00.000Z',
  nextRuns: ['2026-12-08T02:00:00.000Z', '2026-12-09T02:00:00.000Z', '2026-12-10T02:00:00.000Z', '2026-12-11T02:00:00.000Z', '2026-12-12T02:00:00.000Z'],
  lastRun: null,
};

export const schedulesPaths: ZodOpenApiPathsObject = {
  '/api/v1/admin/schedules': {
    get: op('admin', 'listSchedules', 'Every schedule with its next runs and last run, then the built-in maintenance jobs (builtin: true, read-only)', {
      responses: { '200': json('The schedules', z.object({ items: z.array(AnySchedule) }).meta({ id: 'ScheduleList' }), { items: [example] }) },
    }, admin),
    post: op('admin', 'createSchedule', 'Create a schedule: a cron expression (5 fields, or 6 with seconds) in an IANA time zone that starts a task of a registered type with a fixed input', {
      requestBody: body(CreateScheduleSchema, { name: 'nightly-go-roadmap', cron: '0 3 * * *', timezone: 'Europe/Berlin', type: 'roadmap.generate', input: { goal: 'Learn Go' }, catchup: 'latest' }),
      responses: {
        '201': json('The schedule created', ScheduleSchema, example),
        ...errors('400', '409', '413', '415'),
      },
    }, admin),
  },
  '/api/v1/admin/schedules/{id}': {
    get: op('admin', 'getSchedule', 'One schedule with its next runs (in its time zone) and its last run', {
      requestParams: { path: scheduleId },
      responses: { '200': json('The schedule', AnySchedule, example), ...errors('400', '404') },
    }, admin),
    patch: op('admin', 'updateSchedule', 'Change a schedule; a new cron or time zone counts occurrences from now on (a built-in one: 409 BUILTIN_SCHEDULE)', {
      requestParams: { path: scheduleId },
      requestBody: body(UpdateScheduleSchema, { overlap: 'queue' }),
      responses: { '200': json('The schedule changed', ScheduleSchema, example), ...errors('400', '404', '409', '413', '415') },
    }, admin),
    delete: op('admin', 'deleteSchedule', 'Delete a schedule and its run history; the tasks it started stay (a built-in one: 409 BUILTIN_SCHEDULE)', {
      requestParams: { path: scheduleId },
      responses: {
        '200': json('Deleted', z.object({ id: z.uuid(), name: z.string(), deleted: z.literal(true) }).meta({ id: 'ScheduleDeleted' })),
        ...errors('400', '404', '409'),
      },
    }, admin),
  },
  '/api/v1/admin/schedules/{id}/pause': {
    post: op('admin', 'pauseSchedule', 'Pause a schedule: no occurrence fires until it is resumed', {
      requestParams: { path: scheduleId },
      responses: { '200': json('The schedule, paused', ScheduleSchema), ...errors('400', '404', '409') },
    }, admin),
  },
  '/api/v1/admin/schedules/{id}/resume': {
    post: op('admin', 'resumeSchedule', 'Resume a schedule: occurrences count from now (what fell due while paused is not caught up)', {
      requestParams: { path: scheduleId },
      responses: { '200': json('The schedule, active', ScheduleSchema), ...errors('400', '404', '409') },
    }, admin),
  },
  '/api/v1/admin/schedules/{id}/runs': {
    get: op('admin', 'listScheduleRuns', "A schedule's occurrences, newest first: occurrence time, fired at, outcome (started, skipped, queued, failed), task id, error; for builtin:<job>, the job's runs (outcome running, ok, error, abandoned, with duration, rows and detail)", {
      requestParams: { path: scheduleId, query: RunsQuerySchema },
      responses: {
        '200': json('A page of runs', z.object({ items: z.array(z.union([ScheduleRunSchema, BuiltinScheduleRunSchema])), nextCursor: z.string().nullable() }).meta({ id: 'ScheduleRunPage' })),
        ...errors('400', '404'),
      },
    }, admin),
  },
};
