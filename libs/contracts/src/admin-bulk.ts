import { z } from 'zod';
import { defineTaskType } from './task-types.js';

/** Items one bulk action acts on at most; a larger match is done in several calls (each takes the oldest). */
export const BULK_CAP = 10_000;

/** The actions a bulk task runs: what it acts on, then the single-item action. */
export const ADMIN_BULK_ACTIONS = ['tasks.cancel', 'tasks.resume', 'tasks.retry-failed-items', 'dead-letters.replay', 'dead-letters.discard'] as const;
export type AdminBulkAction = (typeof ADMIN_BULK_ACTIONS)[number];

export const AdminBulkInputSchema = z.strictObject({
  action: z.enum(ADMIN_BULK_ACTIONS),
  /** The admin who asked (the audit's actor; a discard records it as who discarded). */
  actor: z.string().min(1).max(200),
  /** The filter as the admin gave it (for the audit and the job view). */
  filter: z.record(z.string(), z.unknown()),
  /** What the filter matched when the task was created (may exceed the cap). */
  matched: z.number().int().min(0),
  /** The ids acted on, snapshotted at creation, oldest first. */
  ids: z.array(z.uuid()).min(1).max(BULK_CAP),
});
export type AdminBulkInput = z.infer<typeof AdminBulkInputSchema>;

const count = z.number().int().min(0);
export const BulkItemErrorSchema = z.object({ id: z.uuid(), code: z.string(), message: z.string() });

export const AdminBulkResultSchema = z.object({
  total: count,
  done: count,
  failed: count,
  skipped: count,
  /** The first errors (at most 100). */
  errors: z.array(BulkItemErrorSchema),
});
export type AdminBulkResult = z.infer<typeof AdminBulkResultSchema>;

/**
 * admin.bulk: an operator's bulk action (POST admin/tasks/bulk, admin/dead-letters/bulk) run as a
 * task. Internal: it is not in BUILT_IN_TASK_TYPES, so POST /api/v1/tasks refuses it and GET
 * /api/v1/task-types does not list it; only the admin bulk routes create it.
 */
export const AdminBulkType = defineTaskType({
  type: 'admin.bulk',
  version: 'admin-bulk@1',
  description: 'An admin bulk action over a snapshot of matched ids, in checkpointed chunks',
  input: AdminBulkInputSchema,
  result: AdminBulkResultSchema,
});
