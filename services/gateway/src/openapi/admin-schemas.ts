import { TASK_STATUSES } from '@roadmap/contracts';
import { z } from 'zod';
import { TaskSchema } from './schemas.js';

/* Responses of the operators' endpoints (/api/v1/admin/*) and of the console's read models. */

const uuid = z.uuid();
const instant = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

export const WhoamiSchema = z.object({ owner: z.string(), role: z.enum(['admin', 'user']) }).meta({ id: 'Whoami' });

const deadLetterFields = {
  id: uuid,
  stream: z.string(),
  subject: z.string(),
  streamSequence: count.nullable(),
  deliveries: count.nullable(),
  reason: z.string(),
  taskId: uuid.nullable(),
  createdAt: instant,
  replayedAt: instant.nullable(),
  replayCount: count,
  discardedAt: instant.nullable(),
  discardedBy: z.string().nullable(),
};

export const DeadLetterSchema = z.object(deadLetterFields).meta({ id: 'DeadLetter' });
export const DeadLetterDetailSchema = z
  .object({ ...deadLetterFields, headers: z.record(z.string(), z.string()), payload: z.string() })
  .meta({ id: 'DeadLetterDetail', description: 'A dead letter with its headers and raw payload' });
export const DeadLetterListSchema = z.object({ items: z.array(DeadLetterSchema) }).meta({ id: 'DeadLetterList' });
export const DeadLetterActionSchema = z
  .object({ ...deadLetterFields, status: z.enum(['replayed', 'discarded']) })
  .meta({ id: 'DeadLetterAction' });

/** Who paused a consumer and when, as a worker reports it. */
export const PausedSchema = z.object({ by: z.string(), at: instant }).meta({ id: 'Paused' });

const orNull = <T extends z.ZodType>(schema: T) => schema.nullable();

export const QueuesSchema = z
  .object({
    at: instant,
    streams: z.array(
      z.object({
        stream: z.string(),
        messages: orNull(count),
        bytes: orNull(count),
        consumers: z.array(
          z.object({
            consumer: z.string(),
            stream: z.string(),
            pending: orNull(count),
            ackPending: orNull(count),
            redelivered: orNull(count),
            waiting: orNull(count),
            lastActive: orNull(instant),
            ackRate: orNull(z.number().min(0)),
            rateWindowSeconds: orNull(z.number().min(0)),
            paused: orNull(z.boolean()).meta({ description: 'Paused by an operator (POST …/queues/{stream}/pause); null when the controls could not be read' }),
            pausedBy: orNull(z.string()),
            pausedAt: orNull(instant),
            error: orNull(z.string()),
          }),
        ),
        error: orNull(z.string()),
      }),
    ),
  })
  .meta({ id: 'Queues' });

/** Who a worker process is (every worker view starts with it). */
export const workerIdentity = {
  id: z.string(),
  service: z.string(),
  instance: z.string(),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  status: z.enum(['alive', 'gone']),
  startedAt: instant,
  lastHeartbeatAt: instant,
  heartbeatIntervalMs: count,
};

export const WorkersSchema = z
  .object({
    items: z.array(
      z.object({
        ...workerIdentity,
        inFlight: count,
        consumers: z.array(
          z.object({
            consumer: z.string(),
            stream: z.string(),
            concurrency: count,
            configuredConcurrency: count,
            paused: PausedSchema.nullable(),
            inFlight: count,
            held: count,
            handled: z.object({ acked: count, retried: count, deadLettered: count }),
            since: z.string(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'Workers' });

export const MaintenanceSchema = z
  .object({
    jobs: z.array(
      z.object({
        job: z.string(),
        intervalSeconds: z.number(),
        lastSuccessAt: instant.nullable(),
        nextDueAt: instant.nullable(),
        runs: z.array(
          z.object({
            id: z.string(),
            instance: z.string(),
            startedAt: instant,
            finishedAt: instant.nullable(),
            durationMs: count.nullable(),
            outcome: z.string(),
            detail: z.record(z.string(), z.unknown()).nullable(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'Maintenance' });

const byStatus = z.object(Object.fromEntries(TASK_STATUSES.map((status) => [status, count])) as Record<(typeof TASK_STATUSES)[number], typeof count>);

export const TaskStatsSchema = z
  .object({
    since: instant,
    until: instant,
    bucketMinutes: z.number().int(),
    total: count,
    byStatus,
    buckets: z.array(z.object({ start: instant, byStatus })),
  })
  .meta({ id: 'TaskStats' });

export const ConsoleTaskPageSchema = z
  .object({ items: z.array(TaskSchema.extend({ goal: z.string().nullable() })), nextCursor: z.string().nullable() })
  .meta({ id: 'ConsoleTaskPage' });
