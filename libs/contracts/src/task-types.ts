import { z } from 'zod';
import { CreateRoadmapRequestSchema, PreferencesSchema, PRIORITIES, REVIEW_MODES, WORKFLOW_VERSION } from './domain.js';
import { CallbackUrlSchema } from './webhooks.js';

/**
 * What the API knows of a kind of job: its name, its definition's version, and the schemas of its
 * input and result. The workflow worker pairs each with a definition (its steps); the gateway
 * validates `POST /api/v1/tasks` with `input` and lists them at `GET /api/v1/task-types`.
 */
export interface TaskTypeContract<I = unknown, R = unknown> {
  /** `<domain>.<verb>`, e.g. `roadmap.generate`. */
  readonly type: string;
  /** The definition's version, stored on every task: a run is never resumed by another version. */
  readonly version: string;
  /** One sentence for people reading `GET /api/v1/task-types`. */
  readonly description: string;
  readonly input: z.ZodType<I>;
  readonly result: z.ZodType<R>;
  /**
   * Signals its runs may wait for, with their payload schemas (POST /api/v1/tasks/:id/signals/:name
   * validates with them). A roadmap's review has an endpoint of its own.
   */
  readonly signals?: Readonly<Record<string, z.ZodType>>;
}

/** Declares a task type (a typed identity function: the schemas keep their types). */
export function defineTaskType<I, R>(contract: TaskTypeContract<I, R>): TaskTypeContract<I, R> {
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(contract.type)) throw new Error(`task type "${contract.type}" is not <domain>.<verb> in lower case`);
  return Object.freeze(contract);
}

/** Tokens, estimated cost and calls of a task's LLM calls. */
export const UsageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0),
  calls: z.number().int().min(0),
});
export type Usage = z.infer<typeof UsageSchema>;

/** Input of a `roadmap.generate` task (the body of POST /roadmaps without its task options). */
export const RoadmapInputSchema = CreateRoadmapRequestSchema.pick({ goal: true, preferences: true });
export type RoadmapInput = z.infer<typeof RoadmapInputSchema>;

export const RoadmapResultSchema = z.object({
  roadmapId: z.uuid(),
  /** Concepts in the framework, and content items generated for them (three per concept). */
  concepts: z.number().int().min(0),
  items: z.number().int().min(0),
  usage: UsageSchema,
});
export type RoadmapResult = z.infer<typeof RoadmapResultSchema>;

export const RoadmapGenerateType = defineTaskType({
  type: 'roadmap.generate',
  version: WORKFLOW_VERSION,
  description: 'A learning roadmap for one goal: framework, optional review, then a tutorial, resources and a quiz per concept',
  input: RoadmapInputSchema,
  result: RoadmapResultSchema,
});

/** At most this many goals in one batch. */
export const BATCH_MAX_GOALS = 1000;

export const RoadmapBatchInputSchema = z.strictObject({
  goals: z.array(z.string().trim().min(3).max(500)).min(1).max(BATCH_MAX_GOALS),
  /** For every child roadmap. */
  preferences: PreferencesSchema.optional(),
  /** Whether each child roadmap waits for a person's review of its framework. */
  review: z.enum(REVIEW_MODES).optional(),
});
export type RoadmapBatchInput = z.infer<typeof RoadmapBatchInputSchema>;

export const BATCH_CHILD_STATUSES = ['completed', 'failed', 'cancelled'] as const;

export const RoadmapBatchResultSchema = z.object({
  total: z.number().int().min(0),
  completed: z.number().int().min(0),
  failed: z.number().int().min(0),
  cancelled: z.number().int().min(0),
  children: z.array(z.object({ taskId: z.uuid(), roadmapId: z.uuid().nullable(), goal: z.string(), status: z.enum(BATCH_CHILD_STATUSES) })),
  usage: UsageSchema,
});
export type RoadmapBatchResult = z.infer<typeof RoadmapBatchResultSchema>;

export const RoadmapBatchType = defineTaskType({
  type: 'roadmap.batch',
  version: 'roadmap-batch@1',
  description: 'Many roadmaps at once (a school or company onboarding learners): one roadmap.generate child per goal, joined into one result',
  input: RoadmapBatchInputSchema,
  result: RoadmapBatchResultSchema,
});

/** The task types every deployment has. Plugins (WORKFLOW_MODULES) add their own at start-up. */
export const BUILT_IN_TASK_TYPES: readonly TaskTypeContract[] = [RoadmapGenerateType, RoadmapBatchType] as TaskTypeContract[];

/** Body of POST /api/v1/tasks: any task type, its input validated against the type's schema. */
export const CreateTaskRequestSchema = z.strictObject({
  type: z.string().trim().min(1).max(100),
  input: z.unknown(),
  priority: z.enum(PRIORITIES).default('normal'),
  /** Whether a person reviews the task's work where its type has a review (roadmap.generate). */
  review: z.enum(REVIEW_MODES).optional(),
  callbackUrl: CallbackUrlSchema.optional(),
});
export type CreateTaskRequest = z.infer<typeof CreateTaskRequestSchema>;

/** Body of POST /api/v1/tasks/:id/signals/:name: the payload a waiting step asked for. */
export const SignalRequestSchema = z.strictObject({ payload: z.unknown().optional() });
