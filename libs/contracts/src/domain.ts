import { z } from 'zod';
import { CallbackUrlSchema } from './webhooks.js';

/** Lifecycle of a task. `awaiting_review` is used once human review lands (see docs/workflow.md). */
export const TASK_STATUSES = ['queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** The built-in task types (see task-types.ts); a plugin may register more, so a type is a string. */
export const TASK_TYPES = ['roadmap.generate', 'roadmap.batch'] as const;
export type TaskType = string;

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The three pieces of content generated for every concept. */
export const CONTENT_KINDS = ['tutorial', 'resources', 'quiz'] as const;
export type ContentKind = (typeof CONTENT_KINDS)[number];

export const ITEM_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** Steps of the framework workflow, in order. `edit` runs only when validation finds errors. */
export const WORKFLOW_STEPS = ['intent_analysis', 'curriculum_design', 'validation', 'edit', 'fan_out'] as const;
export type WorkflowStep = (typeof WORKFLOW_STEPS)[number];
/**
 * Scheduled maintenance jobs, in the order operators see them: the workflow worker runs them, the
 * gateway shows their history (GET /api/v1/admin/maintenance?job=).
 */
export const MAINTENANCE_JOBS = ['execution-logs', 'retention', 'reaper'] as const;
export type MaintenanceJobName = (typeof MAINTENANCE_JOBS)[number];

/** The step a task shows while its content items are generated. */
export const CONTENT_STEP = 'content_generation';

export const LEVELS = ['beginner', 'intermediate', 'advanced'] as const;
export type Level = (typeof LEVELS)[number];

/** What a learner tells us beside the goal. Strict: unknown fields are rejected with their name. */
export const PreferencesSchema = z.strictObject({
  level: z.enum(LEVELS).default('beginner'),
  hoursPerWeek: z.number().int().min(1).max(80).default(8),
  durationWeeks: z.number().int().min(1).max(104).optional(),
  background: z.string().trim().max(1000).optional(),
  language: z.string().trim().min(2).max(35).default('en'),
});
export type Preferences = z.infer<typeof PreferencesSchema>;

/** Whether a person reviews the framework before content is generated. */
export const REVIEW_MODES = ['required', 'skip'] as const;
export type ReviewMode = (typeof REVIEW_MODES)[number];

/** Body of POST /api/v1/roadmaps. `review` defaults to the gateway's REVIEW_DEFAULT. */
export const CreateRoadmapRequestSchema = z.strictObject({
  goal: z.string().trim().min(3).max(500),
  preferences: PreferencesSchema.default(() => PreferencesSchema.parse({})),
  priority: z.enum(PRIORITIES).default('normal'),
  review: z.enum(REVIEW_MODES).optional(),
  callbackUrl: CallbackUrlSchema.optional(),
});
export type CreateRoadmapRequest = z.infer<typeof CreateRoadmapRequestSchema>;

/** Version of the workflow definition; stored on every task so a run resumed after a deploy is recognisable. */
export const WORKFLOW_VERSION = 'roadmap-workflow@1';

/** Body of POST /api/v1/roadmaps/:id/review. */
export const ReviewRequestSchema = z.discriminatedUnion('decision', [
  z.strictObject({ decision: z.literal('approve') }),
  z.strictObject({ decision: z.literal('revise'), feedback: z.string().trim().min(3).max(2000) }),
]);
export type ReviewRequest = z.infer<typeof ReviewRequestSchema>;

/** Body of POST /api/v1/roadmaps/:id/concepts/:conceptId/retry. */
export const RetryItemsRequestSchema = z.strictObject({
  kinds: z
    .array(z.enum(CONTENT_KINDS))
    .min(1)
    .max(3)
    .refine((kinds) => new Set(kinds).size === kinds.length, 'each kind at most once')
    .default([...CONTENT_KINDS]),
});
export type RetryItemsRequest = z.infer<typeof RetryItemsRequestSchema>;
