import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AdminBulkType, NotFoundError, type AdminBulkAction, type AdminBulkInput, type TaskStatus } from '@roadmap/contracts';
import { sql, type StoredError } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import { FairDispatcher } from '@roadmap/workflow';
import { DataSource } from 'typeorm';
import { TasksRepository } from '../tasks/tasks.repository.js';
import {
  BULK_CAP,
  deadLetterSelection,
  matchesNothing,
  SAMPLE_SIZE,
  taskSelection,
  type DeadLetterBulkAction,
  type DeadLetterFilter,
  type Selection,
  type TaskBulkAction,
  type TaskFilter,
} from './bulk-filters.js';

/** A repeated request (same admin, action and filter) within this window returns the task it started. */
const REPEAT_WINDOW_MS = 10 * 60_000;
/** Errors a job view shows. */
const ERRORS_SHOWN = 100;

interface JobRow {
  id: string;
  owner: string;
  status: TaskStatus;
  input: AdminBulkInput;
  error: StoredError | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  done: number;
  failed: number;
  skipped: number;
  errors: Array<{ id: string; code: string; message: string }>;
}

/** A bulk task with its live counts (each item's outcome, recorded by the worker as it goes) and its first errors. */
const JOB_SELECT = `SELECT t.id, t.owner, t.status, t.input, t.error, t.created_at, t.updated_at, t.finished_at, c.done, c.failed, c.skipped, e.errors
   FROM tasks t
   CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE outcome = 'done')::int AS done, count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
                              count(*) FILTER (WHERE outcome = 'skipped')::int AS skipped
                         FROM admin_bulk_items WHERE task_id = t.id) c
   CROSS JOIN LATERAL (SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.item_id, 'code', x.error->>'code', 'message', x.error->>'message') ORDER BY x.at), '[]') AS errors
                         FROM (SELECT item_id, error, at FROM admin_bulk_items WHERE task_id = t.id AND outcome = 'failed' ORDER BY at LIMIT ${ERRORS_SHOWN}) x) e
  WHERE t.type = '${AdminBulkType.type}'`;

/**
 * Bulk actions by filter. A dry run counts what the filter matches (narrowed to what the action can
 * act on) and shows a sample: read only, here. A real run snapshots the ids (at most
 * {@link BULK_CAP}, oldest first) into the input of an `admin.bulk` task, which the workflow worker
 * runs (checkpointed chunks, each item through the single-item action; see its definition): the
 * gateway only creates it and reads its progress (GET admin/jobs/:id, GET /api/v1/tasks/:id).
 * Idempotent: the same admin, action and filter within {@link REPEAT_WINDOW_MS} is the same task (an
 * idempotency key derived from them).
 */
@Injectable()
export class BulkService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  tasks(action: TaskBulkAction, filter: TaskFilter, dryRun: boolean, actor: string) {
    return this.start(`tasks.${action}`, taskSelection(action, filter), 'tasks t', 't.created_at, t.id', filter, dryRun, actor);
  }

  deadLetterBulk(action: DeadLetterBulkAction, filter: DeadLetterFilter, dryRun: boolean, actor: string) {
    return this.start(`dead-letters.${action}`, deadLetterSelection(action, filter), 'dead_letters d', 'd.created_at, d.id', filter, dryRun, actor);
  }

  async job(id: string) {
    const { rows } = await sql<JobRow>(this.dataSource, `${JOB_SELECT} AND t.id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError('Job', id);
    return view(rows[0]);
  }

  async jobs(limit: number) {
    const { rows } = await sql<JobRow>(this.dataSource, `${JOB_SELECT} ORDER BY t.created_at DESC, t.id DESC LIMIT $1`, [limit]);
    return { items: rows.map(view) };
  }

  private async start(action: AdminBulkAction, selection: Selection, from: string, order: string, filter: object, dryRun: boolean, actor: string) {
    const alias = from.split(' ')[1]!;
    const key = `admin-bulk:${createHash('sha256').update(JSON.stringify([action, filter])).digest('hex')}`;
    // A retried request while its task runs is answered before counting (the run may have acted on
    // everything already); once it ended, a filter that now matches nothing is refused as any other.
    const repeated = dryRun ? null : await this.repeated(actor, key);
    if (repeated?.status === 'running') return { ...repeated, repeated: true };
    const { rows: counted } = await sql<{ n: number }>(this.dataSource, `SELECT count(*)::int AS n FROM ${from} WHERE ${selection.where}`, selection.params);
    const matched = counted[0]!.n;
    if (matched === 0) throw matchesNothing();
    if (dryRun) {
      const { rows } = await sql<{ id: string }>(this.dataSource, `SELECT ${alias}.id FROM ${from} WHERE ${selection.where} ORDER BY ${order} LIMIT ${SAMPLE_SIZE}`, selection.params);
      return { action, dryRun: true, matched, willActOn: Math.min(matched, BULK_CAP), cap: BULK_CAP, sample: rows.map((r) => r.id) };
    }
    if (repeated) return { ...repeated, repeated: true };
    const { rows: selected } = await sql<{ id: string }>(this.dataSource, `SELECT ${alias}.id FROM ${from} WHERE ${selection.where} ORDER BY ${order} LIMIT ${BULK_CAP}`, selection.params);
    const input: AdminBulkInput = { action, actor, filter: filter as Record<string, unknown>, matched, ids: selected.map((r) => r.id) };
    const taskId = timeOrderedId();
    // An operator's action does not queue behind the work it acts on (a flood it cancels): high priority.
    const { task, replayed } = await this.moduleRef.get(TasksRepository, { strict: false }).createOne(
      { id: taskId, type: AdminBulkType.type, owner: actor, priority: 'high', input, version: AdminBulkType.version, reviewMode: 'skip' },
      { idempotency: { key, requestHash: key, windowMs: REPEAT_WINDOW_MS } },
    );
    // Its start is held for fair dispatch like any task's: release it now rather than at the next sweep.
    this.moduleRef.get(FairDispatcher, { strict: false }).request('high', 'workflow');
    return { ...(await this.job(task.id)), repeated: replayed };
  }

  /** The job of the same request within the repeat window, if any. */
  private async repeated(actor: string, key: string) {
    const { rows } = await sql<{ task_id: string }>(
      this.dataSource,
      `SELECT task_id FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at > now() - make_interval(secs => $3)`,
      [actor, key, REPEAT_WINDOW_MS / 1000],
    );
    return rows[0] ? this.job(rows[0].task_id) : null;
  }
}

/** A job's status as the bulk routes have always said it: running until the task ended. */
function jobStatus(status: TaskStatus): 'running' | 'completed' | 'failed' {
  if (status === 'completed') return 'completed';
  return status === 'failed' || status === 'cancelled' ? 'failed' : 'running';
}

function view(row: JobRow) {
  return {
    jobId: row.id,
    taskId: row.id,
    action: row.input.action,
    actor: row.input.actor,
    status: jobStatus(row.status),
    matched: row.input.matched,
    total: row.input.ids.length,
    done: row.done,
    failed: row.failed,
    skipped: row.skipped,
    errors: row.errors,
    error: row.error ? `${row.error.code}: ${row.error.message}` : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    links: { self: `/api/v1/admin/jobs/${row.id}`, task: `/api/v1/tasks/${row.id}` },
  };
}
