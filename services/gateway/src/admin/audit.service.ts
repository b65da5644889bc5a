import { Inject, Injectable } from '@nestjs/common';
import { AppError, ValidationError } from '@roadmap/contracts';
import { appendAudit, sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import type { Logger } from '@roadmap/observability';
import { DataSource, type EntityManager } from 'typeorm';
import type { Principal } from '../auth/principal.js';

interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  params: Record<string, unknown>;
  outcome: 'ok' | 'failed';
  result: Record<string, unknown> | null;
}

/** Who acted: an admin principal, or the CLI's direct database access (API keys). */
export type Actor = Pick<Principal, 'owner' | 'credential'> | string;

export interface AuditQuery {
  readonly limit: number;
  readonly cursor?: string;
  readonly actor?: string;
  readonly action?: string;
}

/**
 * The audit trail of admin actions (admin_audit): who, what, on which target, with which
 * parameters, how it ended and when. Every admin action runs through {@link run}, so a refused or
 * failed one is recorded too, with its error code.
 */
@Injectable()
export class AuditService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Runs an admin action and records it with its outcome; the action's result or error is passed on. */
  async run<T>(actor: Actor, action: string, target: string | null, params: object, act: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await act();
    } catch (error) {
      const failure = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: String((error as Error)?.message ?? error) };
      await this.write(actor, action, target, params, 'failed', failure);
      throw error;
    }
    await this.write(actor, action, target, params, 'ok', summary(result));
    return result;
  }

  /**
   * Records an action; never throws (the action already happened: a lost audit row is logged, not
   * turned into a failed request). With `em`, inside that transaction.
   */
  async write(actor: Actor, action: string, target: string | null, params: object, outcome: 'ok' | 'failed', result: unknown, em?: EntityManager): Promise<void> {
    const who = typeof actor === 'string' ? actor : actor.owner;
    try {
      await appendAudit(em ?? this.dataSource, { actor: who, action, target, params, outcome, result });
    } catch (error) {
      this.logger.error({ err: error, actor: who, action, target }, 'audit entry not written');
    }
  }

  /** Newest first, `limit` at a time; `nextCursor` continues where the page ended. */
  async list(query: AuditQuery) {
    const params: unknown[] = [query.limit + 1];
    const where: string[] = [];
    if (query.cursor) where.push(`id < $${params.push(decodeCursor(query.cursor))}`);
    if (query.actor) where.push(`actor = $${params.push(query.actor)}`);
    if (query.action) where.push(`action = $${params.push(query.action)}`);
    const { rows } = await sql<AuditRow>(
      this.dataSource,
      `SELECT * FROM admin_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $1`,
      params,
    );
    const page = rows.slice(0, query.limit);
    return {
      items: page.map((row) => ({
        id: row.id,
        at: row.at.toISOString(),
        actor: row.actor,
        action: row.action,
        target: row.target,
        params: row.params,
        outcome: row.outcome,
        result: row.result,
      })),
      nextCursor: rows.length > query.limit ? Buffer.from(page[page.length - 1]!.id).toString('base64url') : null,
    };
  }
}

/** What an action returned, kept small: counts and ids, never a page of items. */
function summary(result: unknown): unknown {
  if (result === null || typeof result !== 'object') return result ?? null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    if (Array.isArray(value)) out[key] = value.length > 20 ? { count: value.length } : value;
    else out[key] = value;
  }
  const text = JSON.stringify(out);
  return text.length > 4_000 ? { truncated: text.slice(0, 4_000) } : out;
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw new ValidationError('cursor is not one this API returned', [{ field: 'cursor', message: 'invalid cursor' }]);
  return id;
}
