import { AppError, BULK_CAP, STREAMS, TASK_STATUSES, type TaskStatus } from '@roadmap/contracts';
import { z } from 'zod';

/*
 * The filters of the bulk actions (POST tasks/bulk, POST dead-letters/bulk) and the SQL that selects
 * what they match. Reads only: the actions themselves go through the single-item use cases.
 */

export { BULK_CAP };
/** Ids a dry run shows. */
export const SAMPLE_SIZE = 10;

const statuses = z.union([z.enum(TASK_STATUSES), z.array(z.enum(TASK_STATUSES)).min(1).max(TASK_STATUSES.length)]);
const created = { createdFrom: z.iso.datetime({ offset: true }).optional(), createdTo: z.iso.datetime({ offset: true }).optional() };
const ids = z.array(z.uuid()).min(1).max(BULK_CAP).optional();

export const TaskFilterSchema = z.strictObject({
  status: statuses.optional(),
  type: z.string().min(1).max(100).optional(),
  owner: z.string().min(1).max(200).optional(),
  ...created,
  /** The code of the task's error (`ITEMS_FAILED`, `DEAD_LETTERED`, `PURGED`, ...). */
  errorCode: z.string().min(1).max(100).optional(),
  ids,
});
export type TaskFilter = z.infer<typeof TaskFilterSchema>;

export const TASK_BULK_ACTIONS = ['cancel', 'resume', 'retry-failed-items'] as const;
export type TaskBulkAction = (typeof TASK_BULK_ACTIONS)[number];

export const TaskBulkSchema = z.strictObject({ action: z.enum(TASK_BULK_ACTIONS), filter: TaskFilterSchema, dryRun: z.boolean().default(false) });

export const DeadLetterFilterSchema = z.strictObject({
  stream: z.enum(Object.keys(STREAMS) as [string, ...string[]]).optional(),
  /** The start of the dead-letter reason: `max_deliver`, `permanent_error: LLM_REJECTED`, ... */
  reason: z.string().min(1).max(200).optional(),
  taskId: z.uuid().optional(),
  ...created,
  ids,
});
export type DeadLetterFilter = z.infer<typeof DeadLetterFilterSchema>;

export const DEAD_LETTER_BULK_ACTIONS = ['replay', 'discard'] as const;
export type DeadLetterBulkAction = (typeof DEAD_LETTER_BULK_ACTIONS)[number];

export const DeadLetterBulkSchema = z.strictObject({ action: z.enum(DEAD_LETTER_BULK_ACTIONS), filter: DeadLetterFilterSchema, dryRun: z.boolean().default(false) });

/** The statuses each action can act on: the match is narrowed to them, so a dry run counts what will change. */
const ACTIONABLE: Record<TaskBulkAction, readonly TaskStatus[]> = {
  cancel: ['queued', 'running', 'awaiting_review'],
  resume: ['failed', 'cancelled'],
  'retry-failed-items': ['running', 'completed', 'failed'],
};

export interface Selection {
  readonly where: string;
  readonly params: unknown[];
}

export function taskSelection(action: TaskBulkAction, filter: TaskFilter): Selection {
  const params: unknown[] = [];
  const where: string[] = [];
  const wanted = filter.status === undefined ? undefined : Array.isArray(filter.status) ? filter.status : [filter.status];
  const allowed = ACTIONABLE[action].filter((s) => wanted === undefined || wanted.includes(s));
  where.push(`t.status = ANY($${params.push(allowed)}::text[])`);
  if (filter.type) where.push(`t.type = $${params.push(filter.type)}`);
  if (filter.owner) where.push(`t.owner = $${params.push(filter.owner)}`);
  if (filter.createdFrom) where.push(`t.created_at >= $${params.push(filter.createdFrom)}::timestamptz`);
  if (filter.createdTo) where.push(`t.created_at < $${params.push(filter.createdTo)}::timestamptz`);
  if (filter.errorCode) where.push(`t.error->>'code' = $${params.push(filter.errorCode)}`);
  if (filter.ids) where.push(`t.id = ANY($${params.push(filter.ids)}::uuid[])`);
  if (action === 'retry-failed-items') {
    where.push(`EXISTS (SELECT 1 FROM content_items i WHERE i.roadmap_id = t.roadmap_id AND i.status = 'failed')`);
  }
  return { where: where.join(' AND '), params };
}

export function deadLetterSelection(action: DeadLetterBulkAction, filter: DeadLetterFilter): Selection {
  const params: unknown[] = [];
  // Discarded ones can be neither replayed (409) nor discarded again.
  const where: string[] = [`d.discarded_at IS NULL`];
  if (action === 'replay') where.push(`d.subject NOT LIKE 'dlq.%'`);
  if (filter.stream) where.push(`d.stream = $${params.push(filter.stream)}`);
  if (filter.reason) where.push(`starts_with(d.reason, $${params.push(filter.reason)})`);
  if (filter.taskId) where.push(`d.task_id = $${params.push(filter.taskId)}::uuid`);
  if (filter.createdFrom) where.push(`d.created_at >= $${params.push(filter.createdFrom)}::timestamptz`);
  if (filter.createdTo) where.push(`d.created_at < $${params.push(filter.createdTo)}::timestamptz`);
  if (filter.ids) where.push(`d.id = ANY($${params.push(filter.ids)}::uuid[])`);
  return { where: where.join(' AND '), params };
}

/** A filter that selects nothing is refused: a bulk action by mistake on an empty set hides a typo. */
export function matchesNothing(): AppError {
  return new AppError('FILTER_MATCHES_NOTHING', 'The filter matches nothing this action can act on', {
    status: 404,
    details: [{ field: 'filter', message: 'matches nothing' }],
  });
}
