import {
  CONTENT_KINDS,
  FrameworkSchema,
  IntentAnalysisSchema,
  QuizSchema,
  ResourcesSchema,
  TutorialSchema,
  ITEM_STATUSES,
  LEVELS,
  LOG_LEVELS,
  PRIORITIES,
  REVIEW_MODES,
  TASK_STATUSES,
  TaskEventSchema,
  ValidationIssueSchema,
} from '@roadmap/contracts';
import { z } from 'zod';

/*
 * What the gateway answers, as zod schemas registered as OpenAPI components (`meta({ id })`). The
 * request side reuses the schemas the controllers validate with; these describe the responses, and
 * the end-to-end tests hold every response the gateway sends to them (test/support/openapi.ts).
 * Objects are closed (`additionalProperties: false` in the document) so a field the code adds
 * without documenting it fails a test rather than reaching a generated client untyped.
 */

const uuid = z.uuid();
const instant = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);
const json = z.record(z.string(), z.unknown()); // any JSON object

/** An object with one property per content kind (a record over an enum renders as `propertyNames`, which generators type poorly). */
export function perKind<T extends z.ZodType>(schema: T) {
  return z.object({ tutorial: schema, resources: schema, quiz: schema } satisfies Record<(typeof CONTENT_KINDS)[number], T>);
}

export const FieldIssueSchema = z
  .object({
    path: z.string().meta({ description: 'The field at fault: a dotted path into the body (`preferences.hoursPerWeek`), or a parameter or header name', example: 'goal' }),
    field: z.string().meta({ description: 'Same as `path` (the name earlier clients read)', deprecated: true }),
    message: z.string().meta({ example: 'Too small: expected string to have >=3 characters' }),
  })
  .meta({ id: 'FieldIssue' });

export const ErrorSchema = z
  .object({
    code: z.string().meta({
      description: 'Stable machine-readable code: switch on it (VALIDATION_FAILED, INVALID_JSON, INVALID_ID, NOT_FOUND, CONFLICT, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, IDEMPOTENCY_KEY_REUSED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, SERVICE_UNAVAILABLE, INTERNAL, …)',
      example: 'VALIDATION_FAILED',
    }),
    message: z.string().meta({ description: 'What went wrong, for a person', example: 'The request body is invalid: goal: Too small' }),
    details: z.array(FieldIssueSchema).optional().meta({ description: 'Each field at fault (400s)' }),
    requestId: z.string().optional().meta({ description: 'Quote it when reporting a problem: the gateway logs it' }),
  })
  .meta({
    id: 'Error',
    description: 'The one shape of every error',
    examples: [{ code: 'VALIDATION_FAILED', message: 'The request body is invalid: goal: Too small', details: [{ path: 'goal', field: 'goal', message: 'Too small' }], requestId: 'req-1' }],
  });

const progress = z.object({ done: count, failed: count, total: count });

export const TaskLinksSchema = z
  .object({
    status: z.string(),
    events: z.string(),
    logs: z.string(),
    llmCalls: z.string(),
    roadmap: z.string().optional(),
    revisions: z.string().optional(),
  })
  .meta({ id: 'TaskLinks', description: 'Where to follow a task (relative URLs)' });

const storedError = z.object({ code: z.string(), message: z.string() }).meta({ id: 'StoredError' });

export const TaskSchema = z
  .object({
    id: uuid,
    type: z.string().meta({ example: 'roadmap.generate' }),
    status: z.enum(TASK_STATUSES),
    priority: z.enum(PRIORITIES),
    reviewMode: z.enum(REVIEW_MODES),
    currentStep: z.string().nullable(),
    progress: progress.extend({ percent: z.number().int().min(0).max(100) }),
    roadmapId: uuid.nullable(),
    parentId: uuid.nullable().meta({ description: 'The task that fanned this one out (a batch), or null' }),
    error: storedError.nullable(),
    attempts: count,
    workflowVersion: z.string(),
    promptSet: z.string().nullable(),
    createdAt: instant,
    updatedAt: instant,
    startedAt: instant.nullable(),
    finishedAt: instant.nullable(),
    cancelledAt: instant.nullable(),
    links: TaskLinksSchema,
  })
  .meta({ id: 'Task', description: 'A task as lists show it' });

export const UsageTotalsSchema = z
  .object({ inputTokens: count, outputTokens: count, costUsd: z.number().min(0).meta({ description: 'Estimated, in US dollars' }), calls: count })
  .meta({ id: 'UsageTotals' });

export const TaskDetailSchema = TaskSchema.extend({
  usage: UsageTotalsSchema,
  concepts: z.array(
    z.object({
      id: uuid,
      slug: z.string(),
      title: z.string(),
      items: perKind(z.enum(ITEM_STATUSES)).partial().meta({ description: 'State of each content item by kind' }),
      usage: perKind(UsageTotalsSchema).partial(),
    }),
  ),
  children: z
    .object({ total: count, ...Object.fromEntries(TASK_STATUSES.map((status) => [status, count])) } as Record<'total' | (typeof TASK_STATUSES)[number], typeof count>)
    .nullable()
    .meta({ description: 'Counts of its child tasks by status (a batch), or null when it has none' }),
}).meta({ id: 'TaskDetail', description: 'The polling view: a task with per-concept item states and LLM usage' });

const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) });

export const TaskPageSchema = page(TaskSchema).meta({ id: 'TaskPage' });

export const RoadmapAcceptedSchema = z
  .object({ taskId: uuid, roadmapId: uuid, status: z.enum(TASK_STATUSES), reviewMode: z.enum(REVIEW_MODES), links: TaskLinksSchema })
  .meta({ id: 'RoadmapAccepted' });

/** A content item of a concept: its state and, once generated, its content (the LLM's validated output). */
const contentItem = <T extends z.ZodType>(content: T) =>
  z.object({
    status: z.enum(ITEM_STATUSES),
    content: content.nullable(),
    error: storedError.nullable(),
    attempts: count,
    promptVersion: z.string().nullable(),
  });

export const RoadmapSchema = z
  .object({
    id: uuid,
    taskId: uuid,
    status: z.enum(['designing', 'awaiting_review', 'generating', 'completed', 'failed', 'cancelled']),
    goal: z.string(),
    preferences: z.object({
      level: z.enum(LEVELS),
      hoursPerWeek: z.number().int(),
      durationWeeks: z.number().int().optional(),
      background: z.string().optional(),
      language: z.string(),
    }),
    title: z.string().nullable(),
    summary: z.string().nullable(),
    intent: IntentAnalysisSchema.nullable(),
    validationIssues: z.array(ValidationIssueSchema),
    revision: count,
    progress,
    stages: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        goal: z.string().nullable(),
        weeks: z.number().int().nullable(),
        concepts: z.array(
          z.object({
            id: uuid,
            slug: z.string(),
            title: z.string(),
            summary: z.string(),
            estimatedHours: z.number(),
            prerequisites: z.array(z.string()),
            content: z.object({
              tutorial: contentItem(TutorialSchema.meta({ id: 'Tutorial' })),
              resources: contentItem(ResourcesSchema.meta({ id: 'Resources' })),
              quiz: contentItem(QuizSchema.meta({ id: 'Quiz' })),
            }),
          }),
        ),
      }),
    ),
    createdAt: instant,
    updatedAt: instant,
    completedAt: instant.nullable(),
    links: TaskLinksSchema,
  })
  .meta({ id: 'Roadmap', description: 'The framework with every concept’s content' });

const conceptRef = z.object({ id: z.string(), title: z.string(), stage: z.string() });

export const RevisionsSchema = z
  .object({
    roadmapId: uuid,
    currentRevision: count,
    items: z.array(
      z.object({
        revision: count,
        source: z.enum(['design', 'validation', 'review']),
        feedback: z.string().nullable(),
        requestedBy: z.string().nullable(),
        createdAt: instant,
        concepts: count,
        changes: z.object({
          added: z.array(conceptRef),
          removed: z.array(conceptRef),
          changed: z.array(z.object({ id: z.string(), title: z.string(), fields: z.array(z.string()) })),
        }),
        framework: FrameworkSchema,
      }),
    ),
  })
  .meta({ id: 'Revisions' });

export const ReviewAcceptedSchema = z
  .object({ taskId: uuid, roadmapId: uuid, status: z.literal('running'), decision: z.enum(['approve', 'revise']), revision: count, links: TaskLinksSchema })
  .meta({ id: 'ReviewAccepted' });

export const RetryAcceptedSchema = z
  .object({ taskId: uuid, roadmapId: uuid, conceptId: uuid, kinds: z.array(z.enum(CONTENT_KINDS)), status: z.literal('running'), links: TaskLinksSchema })
  .meta({ id: 'RetryAccepted' });

export const ResumeAcceptedSchema = z.object({ taskId: uuid, status: z.literal('queued'), links: TaskLinksSchema }).meta({ id: 'ResumeAccepted' });

export const LogPageSchema = page(
  z.object({
    id: uuid,
    at: instant,
    service: z.string(),
    instance: z.string(),
    level: z.enum(LOG_LEVELS),
    step: z.string().nullable(),
    message: z.string(),
    data: json.nullable(),
  }),
).meta({ id: 'LogPage' });

export const LlmCallSchema = z
  .object({
    id: uuid,
    subject: z.string().nullable(),
    provider: z.string(),
    model: z.string(),
    promptVersion: z.string(),
    attempt: count,
    outcome: z.enum(['ok', 'cached', 'repaired', 'error', 'cancelled']),
    error: storedError.nullable(),
    inputTokens: count,
    outputTokens: count,
    costUsd: z.number().nullable(),
    latencyMs: count,
    startedAt: instant,
    createdAt: instant,
    links: z.object({ self: z.string() }),
    prompt: z.object({ system: z.string(), user: z.string() }).optional().meta({ description: 'With include=content, and on GET of one call' }),
    response: z.string().nullable().optional(),
  })
  .meta({ id: 'LlmCall' });

export const LlmCallPageSchema = page(LlmCallSchema).meta({ id: 'LlmCallPage' });

const modelUsage = UsageTotalsSchema.extend({ provider: z.string(), model: z.string() });
export const UsageSchema = z
  .object({
    owner: z.string(),
    from: z.iso.date(),
    to: z.iso.date(),
    total: UsageTotalsSchema,
    days: z.array(UsageTotalsSchema.extend({ day: z.iso.date(), models: z.array(modelUsage) })),
  })
  .meta({ id: 'Usage' });

/** The progress events of GET /tasks/:id/events: each one's `event:` field is its `type`. */
export const TaskEventPayloadSchema = TaskEventSchema.meta({
  id: 'TaskEvent',
  description: 'One progress event; the SSE `event:` field is its `type`',
  examples: [{ type: 'task.completed', taskId: '01938d2e-7c4a-7b3e-9f10-2d5a8c0e4b11', at: '2026-12-07T10:00:00.000Z', progress: { done: 36, failed: 0, total: 36 } }],
});

/* The unified task API: every task type through the same endpoints. */

const jsonSchema = z.record(z.string(), z.unknown()).meta({ description: 'A JSON Schema (2020-12)' });

export const TaskAcceptedSchema = z
  .object({
    taskId: uuid,
    type: z.string(),
    roadmapId: uuid.optional().meta({ description: 'roadmap.generate tasks: the roadmap being generated' }),
    status: z.enum(TASK_STATUSES),
    reviewMode: z.enum(REVIEW_MODES),
    links: TaskLinksSchema,
  })
  .meta({ id: 'TaskAccepted' });

export const TaskResultSchema = z
  .object({
    taskId: uuid,
    type: z.string(),
    status: z.literal('completed'),
    finishedAt: instant.nullable(),
    result: json.meta({ description: 'The result, as the task type’s result schema (GET /task-types) describes it' }),
  })
  .meta({ id: 'TaskResult' });

export const SignalAcceptedSchema = z
  .object({ taskId: uuid, type: z.string(), status: z.literal('running'), signal: z.string(), links: TaskLinksSchema })
  .meta({ id: 'SignalAccepted' });

export const TaskTypesSchema = z
  .object({
    items: z.array(
      z.object({
        type: z.string().meta({ example: 'roadmap.generate' }),
        version: z.string(),
        description: z.string(),
        input: jsonSchema,
        result: jsonSchema,
        signals: z.record(z.string(), jsonSchema).meta({ description: 'Each signal a run may wait for, with its payload schema' }),
      }),
    ),
  })
  .meta({ id: 'TaskTypes' });
