import { Inject, Injectable } from '@nestjs/common';
import { TASK_STATUSES, ValidationError, type TaskStatus } from '@roadmap/contracts';
import { sql, TaskEntity } from '@roadmap/persistence';
import { DataSource, In } from 'typeorm';
import type { OwnerScope } from '../auth/principal.js';
import { taskView } from '../tasks/task-views.js';

/** Width of one bar of the console's "tasks over the last hour" chart. */
const BUCKET_MINUTES = 5;

export interface ConsoleTaskQuery {
  status?: TaskStatus;
  /** Words of the goal, or the start of a task or roadmap id. */
  q?: string;
  limit: number;
  cursor?: string;
}

/**
 * What the console needs and the resource endpoints cannot give cheaply: counts of tasks by status
 * over a recent window (one grouped query instead of paging through every task), and a task list
 * searchable by goal that shows each task's goal. Scoped like every task read: a user sees only its
 * own tasks, an admin everyone's.
 */
@Injectable()
export class ConsoleService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Tasks created in the last `minutes`, counted by status, overall and per 5-minute bucket (oldest first). */
  async taskStats(scope: OwnerScope, minutes: number, now = new Date()) {
    const since = new Date(now.getTime() - minutes * 60_000);
    const { rows } = await sql<{ bucket: number; status: TaskStatus; count: string }>(
      this.dataSource,
      `SELECT floor(extract(epoch FROM (created_at - $1::timestamptz)) / ($3 * 60))::int AS bucket, status, count(*) AS count
         FROM tasks
        WHERE created_at >= $1 AND created_at <= $2 AND ($4::text IS NULL OR owner = $4)
        GROUP BY 1, 2`,
      [since, now, BUCKET_MINUTES, scope ?? null],
    );
    const empty = () => Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    const byStatus = empty();
    const bucketCount = Math.ceil(minutes / BUCKET_MINUTES);
    const buckets = Array.from({ length: bucketCount }, (_, i) => ({
      start: new Date(since.getTime() + i * BUCKET_MINUTES * 60_000).toISOString(),
      byStatus: empty(),
    }));
    for (const row of rows) {
      const count = Number(row.count);
      byStatus[row.status] += count;
      buckets[Math.min(Math.max(row.bucket, 0), bucketCount - 1)]!.byStatus[row.status] += count;
    }
    return {
      since: since.toISOString(),
      until: now.toISOString(),
      bucketMinutes: BUCKET_MINUTES,
      total: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      buckets,
    };
  }

  /** Tasks newest first with their goal, filtered by status and a search; keyset-paginated. */
  async listTasks(scope: OwnerScope, query: ConsoleTaskQuery) {
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const q = query.q?.trim() ? query.q.trim() : null;
    const { rows } = await sql<{ id: string; goal: string | null; created_at: Date }>(
      this.dataSource,
      `SELECT t.id, r.goal, t.created_at
         FROM tasks t LEFT JOIN roadmaps r ON r.id = t.roadmap_id
        WHERE ($1::text IS NULL OR t.owner = $1)
          AND ($2::text IS NULL OR t.status = $2)
          AND ($3::text IS NULL OR r.goal ILIKE '%' || $3 || '%' ESCAPE '\\'
               OR ($4::text IS NOT NULL AND (t.id::text LIKE $4 || '%' OR t.roadmap_id::text LIKE $4 || '%')))
          AND ($5::timestamptz IS NULL OR (t.created_at, t.id) < ($5, $6::uuid))
        ORDER BY t.created_at DESC, t.id DESC
        LIMIT $7`,
      [
        scope ?? null,
        query.status ?? null,
        q === null ? null : q.replace(/[\\%_]/g, (c) => `\\${c}`),
        idPrefix(q),
        after?.createdAt ?? null,
        after?.id ?? null,
        query.limit + 1,
      ],
    );
    const page = rows.slice(0, query.limit);
    const tasks = page.length ? await this.dataSource.getRepository(TaskEntity).findBy({ id: In(page.map((r) => r.id)) }) : [];
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const last = page.at(-1);
    return {
      items: page.flatMap((row) => {
        const task = byId.get(row.id);
        return task ? [{ ...taskView(task), goal: row.goal }] : [];
      }),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }
}

/** The search as the start of an id, when it looks like one (hex digits and dashes, at least 4). */
function idPrefix(q: string | null): string | null {
  return q !== null && /^[0-9a-f-]{4,36}$/i.test(q) ? q.toLowerCase() : null;
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) {
    throw new ValidationError('The cursor is not one this endpoint returned', [{ field: 'cursor', message: 'invalid' }]);
  }
  return { createdAt, id };
}
