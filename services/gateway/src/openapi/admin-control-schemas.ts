import { ADMIN_BULK_ACTIONS, PRIORITIES, TASK_STATUSES } from '@roadmap/contracts';
import { z } from 'zod';
import { FEED_LEVELS } from '../admin/live-feed.service.js';
import { PausedSchema, workerIdentity } from './admin-schemas.js';

/* Responses of the admin controls (issue 20): queue and worker control, bulk jobs, search, audit, live feed. */

const uuid = z.uuid();
const instant = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

const PauseStateSchema = z
  .object({ consumer: z.string(), stream: z.string(), paused: z.boolean(), pausedBy: z.string().nullable(), pausedAt: instant.nullable() })
  .meta({ id: 'ConsumerPause' });

export const QueuePauseSchema = z
  .object({ stream: z.string(), priority: z.enum(PRIORITIES).nullable(), consumers: z.array(PauseStateSchema) })
  .meta({ id: 'QueuePause', description: 'The queue’s consumers (one priority, or all) and whether each is paused' });

const purgeBase = { stream: z.string(), priority: z.enum(PRIORITIES).nullable(), messages: count, tasks: count };
export const QueuePurgeSchema = z
  .union([
    z.object({ ...purgeBase, dryRun: z.literal(true), sample: z.array(uuid).meta({ description: 'Some of the tasks whose messages would be dropped' }) }),
    z.object({ ...purgeBase, dryRun: z.literal(false), purged: count, cancelled: count.meta({ description: 'Tasks cancelled with code PURGED' }) }),
  ])
  .meta({ id: 'QueuePurge', description: 'A dry run (what would be purged) or the purge done' });

export const WorkerDrainSchema = z
  .object({ workerId: uuid, service: z.string(), instance: z.string(), draining: z.literal(true), requestedBy: z.string(), requestedAt: instant })
  .meta({ id: 'WorkerDrain' });

export const ConcurrencySchema = z
  .object({
    consumer: z.string(),
    concurrency: z.number().int().min(1).nullable().meta({ description: 'null: back to the configured value' }),
    workerId: uuid.nullable(),
    scope: z.enum(['worker', 'all']),
    setBy: z.string(),
    setAt: instant,
  })
  .meta({ id: 'ConsumerConcurrency' });

const identity = workerIdentity;

export const WorkersActiveSchema = z
  .object({
    items: z.array(
      z.object({
        ...identity,
        active: z.array(
          z.object({ consumer: z.string(), subject: z.string(), streamSequence: count, deliveryCount: count, startedAt: instant, taskId: uuid.nullable() }),
        ),
      }),
    ),
  })
  .meta({ id: 'WorkersActive' });

export const WorkersRegisteredSchema = z
  .object({
    items: z.array(
      z.object({
        ...identity,
        handlers: z.array(
          z.object({
            consumer: z.string(),
            stream: z.string(),
            filterSubject: z.string().nullable(),
            concurrency: count,
            configuredConcurrency: count,
            paused: PausedSchema.nullable(),
          }),
        ),
        workflows: z.array(z.object({ name: z.string(), version: z.string() })).meta({ description: 'The workflow types the process runs' }),
      }),
    ),
  })
  .meta({ id: 'WorkersRegistered' });

export const WorkersStatsSchema = z
  .object({
    items: z.array(
      z.object({
        ...identity,
        handled: count,
        failed: count,
        retried: count,
        process: z
          .object({
            rssBytes: count,
            heapUsedBytes: count,
            eventLoopLagMs: z.object({ mean: z.number().min(0), p99: z.number().min(0), max: z.number().min(0) }),
            uptimeSeconds: z.number().min(0),
          })
          .nullable(),
      }),
    ),
  })
  .meta({ id: 'WorkersStats' });

const bulkActions = z.enum(ADMIN_BULK_ACTIONS);

export const BulkDryRunSchema = z
  .object({ action: bulkActions, dryRun: z.literal(true), matched: count, willActOn: count, cap: count, sample: z.array(uuid) })
  .meta({ id: 'BulkDryRun', description: 'What the filter matches (narrowed to what the action can act on), with a sample' });

const jobFields = {
  jobId: uuid.meta({ description: 'The job: its task’s id' }),
  taskId: uuid.meta({ description: 'The admin.bulk task that runs the job in the workflow worker (GET /api/v1/tasks/:id shows its progress)' }),
  action: bulkActions,
  actor: z.string(),
  status: z.enum(['running', 'completed', 'failed']).meta({ description: 'running while its task is queued or running; failed when it failed or was cancelled' }),
  matched: count,
  total: count,
  done: count,
  failed: count,
  skipped: count.meta({ description: 'Items that moved on meanwhile (409, 404)' }),
  errors: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })),
  error: z.string().nullable(),
  createdAt: instant,
  updatedAt: instant,
  finishedAt: instant.nullable(),
  links: z.object({ self: z.string(), task: z.string() }),
};

export const BulkJobSchema = z.object(jobFields).meta({ id: 'BulkJob', description: 'A bulk-action job and its progress' });
export const BulkJobStartedSchema = z
  .object({ ...jobFields, repeated: z.boolean().meta({ description: 'true: the same request’s job (running, or started in the last ten minutes)' }) })
  .meta({ id: 'BulkJobStarted' });
export const BulkJobListSchema = z.object({ items: z.array(BulkJobSchema) }).meta({ id: 'BulkJobList' });

export const TaskSearchPageSchema = z
  .object({
    items: z.array(
      z.object({
        id: uuid,
        type: z.string(),
        status: z.enum(TASK_STATUSES),
        owner: z.string(),
        priority: z.string(),
        goal: z.string().nullable(),
        errorCode: z.string().nullable(),
        createdAt: instant,
        updatedAt: instant,
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'TaskSearchPage' });

export const AuditPageSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        at: instant,
        actor: z.string(),
        action: z.string(),
        target: z.string().nullable(),
        params: z.record(z.string(), z.unknown()),
        outcome: z.enum(['ok', 'failed']),
        result: z.unknown().meta({ description: 'What the action returned (counts and ids), or its error ({ code, message })' }),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'AuditPage' });

export const FeedEventSchema = z
  .looseObject({
    type: z.string(),
    taskId: uuid,
    at: instant,
    owner: z.string().nullable().meta({ description: 'The task’s owner' }),
    level: z.enum(FEED_LEVELS),
  })
  .meta({ id: 'FeedEvent', description: 'A task event (its TaskEvent fields) with the task’s owner and the event’s level' });
