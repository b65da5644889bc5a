import { Inject, Injectable } from '@nestjs/common';
import { ValidationError, type TaskStatus } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

export interface SearchQuery {
  /** Goal words (each a prefix: `kube` finds "Kubernetes"), or a task id prefix (at least 4 hex digits). */
  readonly q?: string;
  readonly owner?: string;
  readonly type?: string;
  readonly status?: TaskStatus;
  /** The task's error code. */
  readonly code?: string;
  readonly limit: number;
  readonly cursor?: string;
}

interface Row {
  id: string;
  type: string;
  status: TaskStatus;
  owner: string;
  priority: string;
  goal: string | null;
  error_code: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Newest tasks a text search looks through before it asks the full-text index. */
const RECENT_WINDOW = 5_000;

/**
 * Task search for admins, across owners. Goal text uses the full-text index on the task's input
 * goal (`tasks_goal_fts_idx`, 'simple' configuration: words, no stemming), every word a prefix; an
 * id prefix becomes a range on the primary key; the rest are equalities. Newest first, with a cursor.
 */
@Injectable()
export class SearchService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async search(query: SearchQuery) {
    const params: unknown[] = [];
    const filters: string[] = [];
    let text: string | undefined;
    const q = query.q?.trim();
    if (q) {
      const range = idRange(q);
      const words = tsQuery(q);
      const goal = words ? `to_tsvector('simple', coalesce(input->>'goal', '')) @@ to_tsquery('simple', $${params.push(words)})` : undefined;
      const id = range ? `id BETWEEN $${params.push(range[0])}::uuid AND $${params.push(range[1])}::uuid` : undefined;
      if (!goal && !id) throw new ValidationError('q needs a word or a task id prefix', [{ field: 'q', message: 'no word or id prefix in it' }]);
      text = `(${[goal, id].filter(Boolean).join(' OR ')})`;
    }
    if (query.owner) filters.push(`owner = $${params.push(query.owner)}`);
    if (query.type) filters.push(`type = $${params.push(query.type)}`);
    if (query.status) filters.push(`status = $${params.push(query.status)}`);
    if (query.code) filters.push(`error->>'code' = $${params.push(query.code)}`);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const before = after ? `(created_at, id) < ($${params.push(after.at)}::timestamptz, $${params.push(after.id)}::uuid)` : 'true';
    const limit = `$${params.push(query.limit + 1)}`;
    const columns = `id, type, status, owner, priority, input->>'goal' AS goal, error->>'code' AS error_code, created_at, updated_at`;
    const order = 'ORDER BY created_at DESC, id DESC';
    const all = (extra: string[]) => [before, ...extra, ...filters].join(' AND ');
    if (!text) {
      return this.page(query.limit, await sql<Row>(this.dataSource, `SELECT ${columns} FROM tasks WHERE ${all([])} ${order} LIMIT ${limit}`, params));
    }
    // Text search, two ways, because PostgreSQL cannot tell how many tasks a (prefix) word matches.
    // First the newest RECENT_WINDOW tasks: a common word fills the page from them at once (newest
    // first is then exact). Only when they do not, the full-text index finds every match (a word
    // rare enough to miss the window matches few tasks), materialised so the planner cannot turn it
    // back into a walk down created_at that evaluates the text on every row.
    const recent = await sql<Row>(
      this.dataSource,
      `SELECT ${columns} FROM (SELECT * FROM tasks WHERE ${before} ${order} LIMIT ${RECENT_WINDOW}) recent
        WHERE ${all([text])} ${order} LIMIT ${limit}`,
      params,
    );
    if (recent.rows.length > query.limit) return this.page(query.limit, recent);
    return this.page(
      query.limit,
      await sql<Row>(
        this.dataSource,
        `WITH hits AS MATERIALIZED (SELECT id FROM tasks WHERE ${text})
         SELECT ${columns} FROM tasks WHERE id IN (SELECT id FROM hits) AND ${all([])} ${order} LIMIT ${limit}`,
        params,
      ),
    );
  }

  private page(limit: number, { rows }: { rows: Row[] }) {
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        id: r.id,
        type: r.type,
        status: r.status,
        owner: r.owner,
        priority: r.priority,
        goal: r.goal,
        errorCode: r.error_code,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      })),
      nextCursor: rows.length > limit && last ? Buffer.from(`${last.created_at.toISOString()}|${last.id}`).toString('base64url') : null,
    };
  }
}

/** Words of `q` as a tsquery where each must appear as a word prefix; undefined when there are none. */
export function tsQuery(q: string): string | undefined {
  const words = q.toLowerCase().match(/[\p{L}\p{N}]+/gu)?.slice(0, 16) ?? [];
  return words.length === 0 ? undefined : words.map((w) => `${w}:*`).join(' & ');
}

/** The smallest and largest UUID starting with an id prefix (4 to 36 hex digits, dashes optional). */
export function idRange(q: string): [string, string] | undefined {
  if (!/^[0-9a-f-]+$/i.test(q)) return undefined;
  const hex = q.replaceAll('-', '').toLowerCase();
  if (hex.length < 4 || hex.length > 32) return undefined;
  const dashed = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return [dashed(hex.padEnd(32, '0')), dashed(hex.padEnd(32, 'f'))];
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ValidationError('cursor is not one this API returned', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
  return { at, id };
}
