import { z } from 'zod';
import { CONTENT_KINDS, PRIORITIES, type ContentKind, type Priority } from './domain.js';

/*
 * What crosses the wire: stream and consumer declarations, subjects and message schemas.
 * Names here are logical; the messaging layer prefixes them with NATS_NAMESPACE when one is set
 * (isolated test runs, several platforms on one NATS account).
 */

/** A JetStream stream, declared once and provisioned idempotently (`npm run provision`). */
export interface StreamDeclaration {
  readonly name: string;
  readonly description: string;
  readonly subjects: readonly string[];
  /** `workqueue`: a message is removed once acked. `limits`: kept until max age (replayable). */
  readonly retention: 'workqueue' | 'limits';
  /** Max age of a message in milliseconds; 0 keeps messages until acked (workqueue). */
  readonly maxAgeMs: number;
  /** Window in which a repeated Nats-Msg-Id is dropped as a duplicate publish. */
  readonly duplicateWindowMs: number;
  /** Largest message accepted (claim check: messages carry ids, never generated content). */
  readonly maxMsgSize: number;
}

/** A durable pull consumer shared by every replica of one service. */
export interface ConsumerDeclaration {
  readonly stream: string;
  readonly durable: string;
  readonly description: string;
  readonly filterSubject: string;
  /** How long a delivered message may stay unacked before redelivery; heartbeats extend it. */
  readonly ackWaitMs: number;
  /**
   * Deliveries before a message is dead-lettered. Bounded for every consumer; the workflow and content
   * consumers' are configurable when provisioning (WORKFLOW_MAX_ATTEMPTS, CONTENT_MAX_ATTEMPTS).
   */
  readonly maxDeliver: number;
  /** Unacked messages the consumer hands out across all replicas. */
  readonly maxAckPending: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export const STREAMS = {
  ROADMAP_WORKFLOW: {
    name: 'ROADMAP_WORKFLOW',
    description: 'Framework workflow commands (generate, resume)',
    subjects: ['roadmap.workflow.>'],
    retention: 'workqueue',
    maxAgeMs: 0,
    duplicateWindowMs: 10 * MINUTE,
    maxMsgSize: 64 * 1024,
  },
  CONTENT_GENERATION: {
    name: 'CONTENT_GENERATION',
    description: 'One message per (roadmap, concept, kind) content item',
    subjects: ['content.generate.>'],
    retention: 'workqueue',
    maxAgeMs: 0,
    duplicateWindowMs: 10 * MINUTE,
    maxMsgSize: 64 * 1024,
  },
  LOGS: {
    name: 'LOGS',
    description: 'Execution-log entries, batched into PostgreSQL by the log sink',
    subjects: ['logs.>'],
    retention: 'workqueue',
    maxAgeMs: 0,
    duplicateWindowMs: 2 * MINUTE,
    maxMsgSize: 256 * 1024,
  },
  EVENTS: {
    name: 'EVENTS',
    description: 'Task progress events, replayable for live-progress clients',
    subjects: ['events.>'],
    retention: 'limits',
    maxAgeMs: DAY,
    duplicateWindowMs: 2 * MINUTE,
    maxMsgSize: 64 * 1024,
  },
  WEBHOOKS: {
    name: 'WEBHOOKS',
    description: 'Webhook deliveries to send (one message per delivery), sent by the webhook worker',
    subjects: ['webhooks.deliver.>'],
    retention: 'workqueue',
    maxAgeMs: 0,
    duplicateWindowMs: 10 * MINUTE,
    maxMsgSize: 16 * 1024,
  },
  DEAD_LETTERS: {
    name: 'DEAD_LETTERS',
    description: 'Messages that failed for good, with their reason',
    subjects: ['dlq.>'],
    retention: 'limits',
    maxAgeMs: 30 * DAY,
    duplicateWindowMs: 2 * MINUTE,
    maxMsgSize: 1024 * 1024,
  },
} as const satisfies Record<string, StreamDeclaration>;
export type StreamName = keyof typeof STREAMS;

/*
 * Priorities are subjects and consumers: every priority has its own durable consumer (filtered on its
 * subject token) with its own slots in each worker, so a high-priority roadmap never queues behind
 * normal ones and low priority always keeps a share of capacity. WorkQueue streams require the
 * filters not to overlap, which one token per priority guarantees.
 */
const workflowConsumer = <P extends Priority>(priority: P) =>
  ({
    stream: 'ROADMAP_WORKFLOW',
    durable: `workflow-worker-${priority}`,
    description: `Runs the framework workflow (${priority} priority)`,
    filterSubject: `roadmap.workflow.${priority}.>`,
    ackWaitMs: 30_000,
    maxDeliver: 3,
    maxAckPending: 256,
  }) as const;
const contentConsumer = <P extends Priority>(priority: P) =>
  ({
    stream: 'CONTENT_GENERATION',
    durable: `content-worker-${priority}`,
    description: `Generates one content item per message (${priority} priority)`,
    filterSubject: `content.generate.${priority}.>`,
    ackWaitMs: 30_000,
    maxDeliver: 3,
    maxAckPending: 2048,
  }) as const;

export const CONSUMERS = {
  workflowHigh: workflowConsumer('high'),
  workflowNormal: workflowConsumer('normal'),
  workflowLow: workflowConsumer('low'),
  contentHigh: contentConsumer('high'),
  contentNormal: contentConsumer('normal'),
  contentLow: contentConsumer('low'),
  deadLetterSink: {
    stream: 'DEAD_LETTERS',
    durable: 'dead-letter-sink',
    description: 'Records dead letters in PostgreSQL for operators (list, inspect, replay)',
    filterSubject: 'dlq.>',
    ackWaitMs: 30_000,
    maxDeliver: 50,
    maxAckPending: 1000,
  },
  /*
   * Webhooks: task events become deliveries (fan-out, from the EVENTS stream the workers publish to),
   * and each delivery is sent, retried and recorded (delivery). A delivery is retried for up to 24 h
   * (WEBHOOK_RETRY_WINDOW_MS) with the delay the handler asks for, at most 15 min apart: ~110 attempts
   * fit in maxDeliver; the handler records it as failed when the window closes.
   */
  webhookFanout: {
    stream: 'EVENTS',
    durable: 'webhook-fanout',
    description: 'Turns the task events webhooks subscribe to into deliveries',
    filterSubject: 'events.task.>',
    ackWaitMs: 30_000,
    maxDeliver: 20,
    maxAckPending: 1000,
  },
  webhookDelivery: {
    stream: 'WEBHOOKS',
    durable: 'webhook-delivery',
    description: 'Sends each webhook delivery, signed, retrying with backoff for up to 24 h',
    filterSubject: 'webhooks.deliver.>',
    ackWaitMs: 30_000,
    maxDeliver: 200,
    maxAckPending: 1000,
  },
  logSink: {
    stream: 'LOGS',
    durable: 'log-sink',
    description: 'Writes execution logs to PostgreSQL in batches',
    filterSubject: 'logs.>',
    ackWaitMs: 30_000,
    maxDeliver: 10,
    maxAckPending: 20_000,
  },
} as const satisfies Record<string, ConsumerDeclaration>;
export type ConsumerName = keyof typeof CONSUMERS;

/** The workflow and content consumers of each priority. */
export const PRIORITY_CONSUMERS = {
  workflow: { high: CONSUMERS.workflowHigh, normal: CONSUMERS.workflowNormal, low: CONSUMERS.workflowLow },
  content: { high: CONSUMERS.contentHigh, normal: CONSUMERS.contentNormal, low: CONSUMERS.contentLow },
} as const;

/** Share of a worker's WORKER_CONCURRENCY each priority's consumer gets (low keeps a floor of one slot). */
export const PRIORITY_SHARE: Readonly<Record<Priority, number>> = { high: 1, normal: 1, low: 0.25 };

/** Slots per priority for a worker's configured concurrency. */
export function priorityConcurrency(concurrency: number): Record<Priority, number> {
  return {
    high: Math.max(1, Math.round(concurrency * PRIORITY_SHARE.high)),
    normal: Math.max(1, Math.round(concurrency * PRIORITY_SHARE.normal)),
    low: Math.max(1, Math.round(concurrency * PRIORITY_SHARE.low)),
  };
}

/** A worker's slots per durable consumer: its priority consumers sharing WORKER_CONCURRENCY by PRIORITY_SHARE. */
export function prioritySlots(worker: keyof typeof PRIORITY_CONSUMERS, concurrency: number): Record<string, number> {
  const slots = priorityConcurrency(concurrency);
  return Object.fromEntries(PRIORITIES.map((p) => [PRIORITY_CONSUMERS[worker][p].durable, slots[p]]));
}

/** The same setting for each of a worker's priority consumers, keyed by durable. */
export function perPriority<V>(worker: keyof typeof PRIORITY_CONSUMERS, value: V): Record<string, V> {
  return Object.fromEntries(PRIORITIES.map((p) => [PRIORITY_CONSUMERS[worker][p].durable, value]));
}

/** Subjects, `<domain>.<entity>.<verb>` plus routing tokens. */
/**
 * generate: first run; resume: continue from the checkpoints; review: a person's review of a roadmap;
 * signal: the payload a waiting step asked for; join: every child of a fan-out has finished.
 */
export const WORKFLOW_COMMANDS = ['generate', 'resume', 'review', 'signal', 'join'] as const;
export type WorkflowCommand = (typeof WORKFLOW_COMMANDS)[number];

export const Subjects = {
  workflow: (priority: Priority, command: WorkflowCommand) => `roadmap.workflow.${priority}.${command}`,
  contentGenerate: (priority: Priority, kind: ContentKind) => `content.generate.${priority}.${kind}`,
  log: (service: string) => `logs.${service}`,
  taskEvents: (taskId: string) => `events.task.${taskId}`,
  deadLetter: (stream: string) => `dlq.${stream}`,
  webhookDelivery: (webhookId: string) => `webhooks.deliver.${webhookId}`,
  /** Core NATS (not a stream): tells every worker to abort the task's work in flight. */
  taskCancelled: 'control.task.cancelled',
} as const;

/** Message headers the platform sets. */
export const Headers = {
  msgId: 'Nats-Msg-Id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  taskId: 'Roadmap-Task-Id',
  publishedAt: 'Roadmap-Published-At',
  deadLetterReason: 'Roadmap-Dlq-Reason',
  deadLetterStream: 'Roadmap-Dlq-Stream',
  deadLetterSubject: 'Roadmap-Dlq-Subject',
  deadLetterSequence: 'Roadmap-Dlq-Sequence',
  deadLetterDeliveries: 'Roadmap-Dlq-Deliveries',
} as const;

const id = z.uuid();

/**
 * A workflow command for a roadmap task: start it, resume it from its checkpoints, or apply a
 * person's review. The goal itself lives in PostgreSQL (claim check); a review carries its decision.
 */
export const WorkflowMessageSchema = z.object({
  taskId: id,
  /** The task's type: which definition runs it (messages from before the engine carry none). */
  type: z.string().max(100).default('roadmap.generate'),
  /** A roadmap task's roadmap (the other types have none). */
  roadmapId: id.optional(),
  command: z.enum(WORKFLOW_COMMANDS).default('generate'),
  /** With `signal`: which wait it answers and its payload (validated by the waiting step's schema). */
  signal: z.object({ name: z.string().min(1).max(64), payload: z.unknown() }).optional(),
  review: z
    .discriminatedUnion('decision', [
      z.object({ decision: z.literal('approve'), by: z.string().max(200), revision: z.number().int().min(0) }),
      z.object({ decision: z.literal('revise'), feedback: z.string().max(2000), by: z.string().max(200), revision: z.number().int().min(0) }),
    ])
    .optional(),
});
export type WorkflowMessage = z.infer<typeof WorkflowMessageSchema>;

/** Sent on {@link Subjects.taskCancelled} when a task is cancelled. */
export const TaskCancelledNoticeSchema = z.object({ taskId: id });

/** Generate one content item. */
export const ContentGenerateMessageSchema = z.object({
  taskId: id,
  roadmapId: id,
  conceptId: id,
  kind: z.enum(CONTENT_KINDS),
  priority: z.enum(PRIORITIES).default('normal'),
  /** The item's generation this message is for: a message for an older one is stale (a PostgreSQL integer). */
  generation: z.number().int().min(0).max(2_147_483_647).default(0),
});
export type ContentGenerateMessage = z.infer<typeof ContentGenerateMessageSchema>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const logService = z.string().min(1).max(64);
/** The process that wrote it (pod name or host:pid): which replica did what. */
const logInstance = z.string().max(128);
const logEntryFields = {
  id,
  ts: z.iso.datetime({ offset: true }),
  level: z.enum(LOG_LEVELS),
  taskId: id.nullable(),
  step: z.string().max(64).nullable(),
  message: z.string().max(4000),
  // Any JSON object: z.looseObject({}) accepts what z.record(z.string(), z.unknown()) does for
  // parsed JSON (its keys are strings) without checking every key (bench/log-validation.mjs).
  data: z.looseObject({}).nullable(),
};

/** One execution-log entry, as stored. `id` is the entry's identity: a redelivered entry is stored once. */
export const LogEntrySchema = z.object({ ...logEntryFields, service: logService, instance: logInstance.default('') });
export type LogEntry = z.infer<typeof LogEntrySchema>;

/**
 * What a LOGS message carries: the entries one process logged within a few milliseconds, batched by
 * the producer (as Kafka producers do) so that ingestion costs one message per batch, not per entry.
 * The process's own fields (`service`, `instance`) travel once, on the batch. Each entry keeps its
 * own id: a redelivered batch is stored once.
 *
 * Earlier producers put `service` and `instance` on every entry and neither on the batch: such a
 * message (still in the stream, or from a replica not yet upgraded) is accepted as it is. An
 * entry's own field wins over the batch's; a batch must give `service` in one of the two places.
 */
export const LogBatchSchema = z
  .object({
    service: logService.optional(),
    instance: logInstance.optional(),
    entries: z.array(z.object({ ...logEntryFields, service: logService.optional(), instance: logInstance.optional() })).min(1).max(2000),
  })
  .superRefine((batch, ctx) => {
    if (batch.service !== undefined) return;
    const i = batch.entries.findIndex((e) => e.service === undefined);
    if (i >= 0) ctx.addIssue({ code: 'custom', path: ['entries', i, 'service'], message: 'service is required, on the batch or on each entry' });
  });
export type LogBatch = z.infer<typeof LogBatchSchema>;
/** An entry as a LOGS message carries it (see {@link LogBatchSchema}). */
export type LogBatchEntry = LogBatch['entries'][number];

/** The entry as stored: its own `service` and `instance`, else its batch's. */
export function resolveLogEntry(batch: LogBatch, entry: LogBatchEntry): LogEntry {
  return { ...entry, service: entry.service ?? batch.service!, instance: entry.instance ?? batch.instance ?? '' };
}

const progress = z.object({ done: z.number().int().min(0), failed: z.number().int().min(0), total: z.number().int().min(0) });
export type Progress = z.infer<typeof progress>;

const eventBase = { taskId: id, at: z.iso.datetime({ offset: true }) };
/** Longest text excerpt an `item.partial` event carries (the tail of what has arrived). */
export const PARTIAL_EXCERPT_CHARS = 280;
/** Progress events of a task, on `events.task.<taskId>`. */
export const TaskEventSchema = z.discriminatedUnion('type', [
  z.object({ ...eventBase, type: z.literal('step.started'), step: z.string() }),
  z.object({ ...eventBase, type: z.literal('step.completed'), step: z.string() }),
  z.object({ ...eventBase, type: z.literal('content.started'), progress }),
  z.object({
    ...eventBase,
    type: z.literal('item.completed'),
    conceptId: id,
    kind: z.enum(CONTENT_KINDS),
    progress,
  }),
  z.object({
    ...eventBase,
    type: z.literal('item.failed'),
    conceptId: id,
    kind: z.enum(CONTENT_KINDS),
    error: z.string(),
    progress,
  }),
  z.object({ ...eventBase, type: z.literal('item.retrying'), conceptId: id, kind: z.enum(CONTENT_KINDS), progress }),
  /**
   * A streamed item arriving (throttled per item): how much so far and a short excerpt of its latest
   * text. Small on purpose: the full content is read from the roadmap once the item completes.
   */
  z.object({
    ...eventBase,
    type: z.literal('item.partial'),
    conceptId: id,
    kind: z.enum(CONTENT_KINDS),
    chars: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    excerpt: z.string().max(PARTIAL_EXCERPT_CHARS),
  }),
  /** A child task of this one (a batch's roadmap) ended; `progress` counts the children. */
  z.object({ ...eventBase, type: z.literal('child.ended'), childId: id, status: z.enum(['completed', 'failed', 'cancelled']), progress }),
  z.object({ ...eventBase, type: z.literal('review.awaiting'), revision: z.number().int().min(1) }),
  z.object({ ...eventBase, type: z.literal('review.submitted'), decision: z.enum(['approve', 'revise']) }),
  z.object({ ...eventBase, type: z.literal('task.resumed') }),
  z.object({ ...eventBase, type: z.literal('task.completed'), progress }),
  z.object({ ...eventBase, type: z.literal('task.failed'), error: z.string() }),
  z.object({ ...eventBase, type: z.literal('task.cancelled') }),
]);
export type TaskEvent = z.infer<typeof TaskEventSchema>;
export type TaskEventType = TaskEvent['type'];
/** Events after which a task does nothing more unless a person resumes or retries it. */
export const FINAL_EVENT_TYPES: readonly TaskEventType[] = ['task.completed', 'task.failed', 'task.cancelled'];
