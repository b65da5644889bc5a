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
  /** Deliveries before a message is dead-lettered. Bounded for every consumer. */
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

export const CONSUMERS = {
  workflowWorker: {
    stream: 'ROADMAP_WORKFLOW',
    durable: 'workflow-worker',
    description: 'Runs the framework workflow',
    filterSubject: 'roadmap.workflow.>',
    ackWaitMs: 30_000,
    maxDeliver: 5,
    maxAckPending: 256,
  },
  contentWorker: {
    stream: 'CONTENT_GENERATION',
    durable: 'content-worker',
    description: 'Generates one content item per message',
    filterSubject: 'content.generate.>',
    ackWaitMs: 30_000,
    maxDeliver: 5,
    maxAckPending: 2048,
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

/** Subjects, `<domain>.<entity>.<verb>` plus routing tokens. */
export const Subjects = {
  workflowGenerate: 'roadmap.workflow.generate',
  contentGenerate: (priority: Priority, kind: ContentKind) => `content.generate.${priority}.${kind}`,
  log: (service: string) => `logs.${service}`,
  taskEvents: (taskId: string) => `events.task.${taskId}`,
  deadLetter: (stream: string) => `dlq.${stream}`,
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

/** Start the framework workflow of a roadmap task. The goal itself lives in PostgreSQL. */
export const WorkflowGenerateMessageSchema = z.object({ taskId: id, roadmapId: id });
export type WorkflowGenerateMessage = z.infer<typeof WorkflowGenerateMessageSchema>;

/** Generate one content item. */
export const ContentGenerateMessageSchema = z.object({
  taskId: id,
  roadmapId: id,
  conceptId: id,
  kind: z.enum(CONTENT_KINDS),
  priority: z.enum(PRIORITIES).default('normal'),
});
export type ContentGenerateMessage = z.infer<typeof ContentGenerateMessageSchema>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One execution-log entry. `id` is the entry's identity: a redelivered entry is stored once. */
export const LogEntrySchema = z.object({
  id,
  ts: z.iso.datetime({ offset: true }),
  service: z.string().min(1).max(64),
  /** The process that wrote it (pod name or host:pid): which replica did what. */
  instance: z.string().max(128).default(''),
  level: z.enum(LOG_LEVELS),
  taskId: id.nullable(),
  step: z.string().max(64).nullable(),
  message: z.string().max(4000),
  data: z.record(z.string(), z.unknown()).nullable(),
});
export type LogEntry = z.infer<typeof LogEntrySchema>;

const progress = z.object({ done: z.number().int().min(0), failed: z.number().int().min(0), total: z.number().int().min(0) });
export type Progress = z.infer<typeof progress>;

const eventBase = { taskId: id, at: z.iso.datetime({ offset: true }) };
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
  z.object({ ...eventBase, type: z.literal('task.completed'), progress }),
  z.object({ ...eventBase, type: z.literal('task.failed'), error: z.string() }),
]);
export type TaskEvent = z.infer<typeof TaskEventSchema>;
export type TaskEventType = TaskEvent['type'];
