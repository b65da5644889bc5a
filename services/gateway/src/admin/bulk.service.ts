import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppError, NotFoundError, type ContentKind } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import { DataSource } from 'typeorm';
import { TasksService } from '../tasks/tasks.service.js';
import { AuditService } from './audit.service.js';
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
import { DeadLettersService } from './dead-letters.service.js';

/**
 * Items acted on at once by a job. Two, measured (bench `bulk`, 5,000 cancels): with 4 the job took
 * 23–36 s and /healthz p99 rose to 10–11 ms; with 2 it takes 32–39 s and p99 stays at 5–6 ms.
 */
const IN_FLIGHT = 2;
/** Progress is written at most this often. */
const PROGRESS_EVERY_MS = 500;
/** A job whose runner stopped writing progress this long ago (its gateway died) is taken over. */
const STALE_AFTER_MS = 30_000;
/** A repeated request (same admin, action and filter) within this window returns the job it started. */
const REPEAT_WINDOW_MS = 10 * 60_000;

type Kind = `tasks.${TaskBulkAction}` | `dead-letters.${DeadLetterBulkAction}`;

interface JobRow {
  id: string;
  kind: Kind;
  actor: string;
  params: { filter: unknown; ids: string[]; matched: number };
  status: 'running' | 'completed' | 'failed';
  total: number;
  done: number;
  failed: number;
  skipped: number;
  result: { errors?: Array<{ id: string; code: string; message: string }> } | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

/**
 * Bulk actions by filter. A dry run counts what the filter matches (narrowed to what the action can
 * act on) and shows a sample. A real run snapshots the ids (at most {@link BULK_CAP}, oldest first)
 * into an admin_jobs row and works through them in the background with progress (GET
 * admin/jobs/:id), each item through the single-item use case (the tasks API's cancel, resume and
 * item retry; the dead-letter replay and discard), so the rules, events and notices are the same.
 * Idempotent: a repeated request returns the job it started, and each single action is itself
 * harmless to repeat (an item already in its target state is counted as skipped). A job whose
 * gateway died is taken over by another replica from where its progress stopped.
 */
@Injectable()
export class BulkService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly running = new Set<string>();
  private stopped = false;
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(DeadLettersService) private readonly deadLetters: DeadLettersService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => void this.takeOverStale(), STALE_AFTER_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
  }

  tasks(action: TaskBulkAction, filter: TaskFilter, dryRun: boolean, actor: string) {
    return this.start(`tasks.${action}`, taskSelection(action, filter), 'tasks t', 't.created_at, t.id', filter, dryRun, actor);
  }

  deadLetterBulk(action: DeadLetterBulkAction, filter: DeadLetterFilter, dryRun: boolean, actor: string) {
    return this.start(`dead-letters.${action}`, deadLetterSelection(action, filter), 'dead_letters d', 'd.created_at, d.id', filter, dryRun, actor);
  }

  async job(id: string) {
    const { rows } = await sql<JobRow>(this.dataSource, `SELECT * FROM admin_jobs WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError('Job', id);
    return view(rows[0]);
  }

  async jobs(limit: number) {
    const { rows } = await sql<JobRow>(this.dataSource, `SELECT * FROM admin_jobs ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return { items: rows.map(view) };
  }

  private async start(kind: Kind, selection: Selection, from: string, order: string, filter: unknown, dryRun: boolean, actor: string) {
    const alias = from.split(' ')[1]!;
    const { rows: counted } = await sql<{ n: number }>(this.dataSource, `SELECT count(*)::int AS n FROM ${from} WHERE ${selection.where}`, selection.params);
    const matched = counted[0]!.n;
    if (matched === 0) throw matchesNothing();
    if (dryRun) {
      const { rows } = await sql<{ id: string }>(this.dataSource, `SELECT ${alias}.id FROM ${from} WHERE ${selection.where} ORDER BY ${order} LIMIT ${SAMPLE_SIZE}`, selection.params);
      return { action: kind, dryRun: true, matched, willActOn: Math.min(matched, BULK_CAP), cap: BULK_CAP, sample: rows.map((r) => r.id) };
    }
    const dedupeKey = createHash('sha256').update(JSON.stringify([actor, kind, filter])).digest('hex');
    const { rows: repeated } = await sql<JobRow>(
      this.dataSource,
      `SELECT * FROM admin_jobs WHERE dedupe_key = $1 AND (status = 'running' OR created_at > now() - make_interval(secs => $2)) ORDER BY created_at DESC LIMIT 1`,
      [dedupeKey, REPEAT_WINDOW_MS / 1000],
    );
    if (repeated[0]) return { ...view(repeated[0]), repeated: true };
    const { rows: selected } = await sql<{ id: string }>(this.dataSource, `SELECT ${alias}.id FROM ${from} WHERE ${selection.where} ORDER BY ${order} LIMIT ${BULK_CAP}`, selection.params);
    const ids = selected.map((r) => r.id);
    const id = randomUUID();
    const inserted = await sql<JobRow>(
      this.dataSource,
      `INSERT INTO admin_jobs (id, kind, actor, params, dedupe_key, status, total)
       VALUES ($1, $2, $3, $4::jsonb, $5, 'running', $6)
       ON CONFLICT (dedupe_key) WHERE status = 'running' DO NOTHING RETURNING *`,
      [id, kind, actor, JSON.stringify({ filter, ids, matched }), dedupeKey, ids.length],
    );
    // Lost a race with the same request: answer with the job that won it.
    if (!inserted.rows[0]) return { ...(await this.runningJob(dedupeKey)), repeated: true };
    void this.run(inserted.rows[0]);
    return { ...view(inserted.rows[0]), repeated: false };
  }

  private async runningJob(dedupeKey: string) {
    const { rows } = await sql<JobRow>(this.dataSource, `SELECT * FROM admin_jobs WHERE dedupe_key = $1 AND status = 'running'`, [dedupeKey]);
    if (!rows[0]) throw new AppError('CONFLICT', 'The same bulk action is starting: retry in a moment', { status: 409 });
    return view(rows[0]);
  }

  /** Works through the job's ids from where its progress stands, IN_FLIGHT at a time. */
  private async run(job: JobRow): Promise<void> {
    if (this.running.has(job.id)) return;
    this.running.add(job.id);
    const act = this.action(job.kind, job.actor);
    const counts = { done: job.done, failed: job.failed, skipped: job.skipped };
    const errors = [...(job.result?.errors ?? [])];
    let next = counts.done + counts.failed + counts.skipped;
    let lastWrite = Date.now();
    const progress = async (final?: 'completed' | 'failed', error?: string) => {
      lastWrite = Date.now();
      await sql(
        this.dataSource,
        `UPDATE admin_jobs SET done = $2, failed = $3, skipped = $4, result = $5::jsonb, updated_at = now(),
                status = COALESCE($6, status), error = $7, finished_at = CASE WHEN $6::text IS NULL THEN NULL ELSE now() END
          WHERE id = $1`,
        [job.id, counts.done, counts.failed, counts.skipped, JSON.stringify({ errors: errors.slice(0, 100) }), final ?? null, error ?? null],
      );
    };
    try {
      const worker = async () => {
        while (next < job.params.ids.length && !this.stopped) {
          const id = job.params.ids[next++]!;
          try {
            counts[(await act(id)) ? 'done' : 'skipped']++;
          } catch (err) {
            // A 409 or 404: the item moved on since it was selected; anything else is a failure of this item.
            if (err instanceof AppError && (err.status === 409 || err.status === 404)) counts.skipped++;
            else {
              counts.failed++;
              errors.push({ id, code: err instanceof AppError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
            }
          }
          if (Date.now() - lastWrite >= PROGRESS_EVERY_MS) await progress();
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      // Shutting down: progress is kept, and another replica (or this one restarted) takes it over.
      if (this.stopped) return void (await progress());
      await progress('completed');
      await this.audit.write(job.actor, `${job.kind}.finished`, job.id, {}, 'ok', { total: job.total, ...counts });
    } catch (err) {
      this.logger.error({ err, jobId: job.id }, 'bulk job failed');
      await progress('failed', err instanceof Error ? err.message : String(err)).catch(() => undefined);
    } finally {
      this.running.delete(job.id);
    }
  }

  /** The single-item use case of a job's kind; resolves true when it changed something. */
  private action(kind: Kind, actor: string): (id: string) => Promise<boolean> {
    const tasks = () => this.moduleRef.get(TasksService, { strict: false });
    switch (kind) {
      case 'tasks.cancel':
        return async (id) => (await tasks().cancel(id, undefined), true);
      case 'tasks.resume':
        return async (id) => (await tasks().resume(id, undefined), true);
      case 'tasks.retry-failed-items':
        return async (id) => {
          const task = await tasks().getTask(id, undefined);
          let retried = false;
          for (const concept of task.concepts) {
            const kinds = Object.entries(concept.items).filter(([, status]) => status === 'failed').map(([kind]) => kind as ContentKind);
            if (kinds.length === 0 || !task.roadmapId) continue;
            await tasks().retryItems(task.roadmapId, concept.id, undefined, { kinds });
            retried = true;
          }
          return retried;
        };
      case 'dead-letters.replay':
        return async (id) => (await this.deadLetters.replay(id), true);
      case 'dead-letters.discard':
        return async (id) => (await this.deadLetters.discard(id, actor), true);
    }
  }

  /** Takes over jobs whose runner went silent (its gateway died), continuing from their progress. */
  private async takeOverStale(): Promise<void> {
    try {
      const { rows } = await sql<JobRow>(
        this.dataSource,
        `UPDATE admin_jobs SET updated_at = now() WHERE status = 'running' AND updated_at < now() - make_interval(secs => $1) RETURNING *`,
        [STALE_AFTER_MS / 1000],
      );
      for (const job of rows) if (!this.running.has(job.id)) void this.run(job);
    } catch (err) {
      this.logger.warn({ err }, 'could not look for stalled bulk jobs');
    }
  }
}

function view(row: JobRow) {
  return {
    jobId: row.id,
    action: row.kind,
    actor: row.actor,
    status: row.status,
    matched: row.params.matched,
    total: row.total,
    done: row.done,
    failed: row.failed,
    skipped: row.skipped,
    errors: row.result?.errors ?? [],
    error: row.error,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    links: { self: `/api/v1/admin/jobs/${row.id}` },
  };
}
