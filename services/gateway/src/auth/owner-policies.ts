import { Inject, Injectable } from '@nestjs/common';
import { ValidationError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';

/** What an admin grants an owner (`owner_policies`): fair dispatch reads the weight, the priority policy the grant. */
export interface OwnerPolicy {
  owner: string;
  /** Dispatch weight, 1 to 100: an owner with 3 gets three turns for another's one. */
  weight: number;
  /** May ask for `high` priority. */
  priorityHigh: boolean;
  /** Who set it last; null for an owner never set (the defaults). */
  updatedBy: string | null;
  updatedAt: string | null;
}

export interface OwnerPolicyChange {
  readonly weight?: number;
  readonly priorityHigh?: boolean;
}

interface Row {
  owner: string;
  weight: number;
  priority_high: boolean;
  updated_by: string | null;
  updated_at: Date | null;
}

/** The policy of an owner without a row: weight 1, no `high`. */
const defaults = (owner: string): OwnerPolicy => ({ owner, weight: 1, priorityHigh: false, updatedBy: null, updatedAt: null });

const view = (r: Row): OwnerPolicy => ({
  owner: r.owner,
  weight: r.weight,
  priorityHigh: r.priority_high,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at?.toISOString() ?? null,
});

/**
 * `owner_policies`, written here only (the gateway's admin API is its one writer); the fair
 * dispatcher of the workers reads the weights.
 */
@Injectable()
export class OwnerPolicies {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async get(owner: string): Promise<OwnerPolicy> {
    const { rows } = await sql<Row>(this.dataSource, `SELECT * FROM owner_policies WHERE owner = $1`, [owner]);
    return rows[0] ? view(rows[0]) : defaults(owner);
  }

  /** Whether the owner is granted `high` (the one read on the admission path: a primary-key lookup). */
  async grantsHigh(owner: string): Promise<boolean> {
    const { rows } = await sql<{ priority_high: boolean }>(this.dataSource, `SELECT priority_high FROM owner_policies WHERE owner = $1`, [owner]);
    return rows[0]?.priority_high ?? false;
  }

  /** Sets the fields given, keeps the others (an owner without a row starts from the defaults). */
  async set(owner: string, change: OwnerPolicyChange, actor: string, em?: EntityManager): Promise<OwnerPolicy> {
    const { rows } = await sql<Row>(
      em ?? this.dataSource,
      `INSERT INTO owner_policies (owner, weight, priority_high, updated_by, updated_at)
       VALUES ($1, COALESCE($2::int, 1), COALESCE($3::boolean, false), $4, now())
       ON CONFLICT (owner) DO UPDATE SET
         weight = COALESCE($2::int, owner_policies.weight),
         priority_high = COALESCE($3::boolean, owner_policies.priority_high),
         updated_by = $4, updated_at = now()
       RETURNING *`,
      [owner, change.weight ?? null, change.priorityHigh ?? null, actor],
    );
    return view(rows[0]!);
  }

  /** Owners with a policy set, by name, `limit` at a time; `nextCursor` continues where the page ended. */
  async list(query: { limit: number; cursor?: string }): Promise<{ items: OwnerPolicy[]; nextCursor: string | null }> {
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const { rows } = await sql<Row>(
      this.dataSource,
      `SELECT * FROM owner_policies WHERE $2::text IS NULL OR owner > $2 ORDER BY owner LIMIT $1`,
      [query.limit + 1, after],
    );
    const page = rows.slice(0, query.limit);
    return {
      items: page.map(view),
      nextCursor: rows.length > query.limit ? Buffer.from(page[page.length - 1]!.owner, 'utf8').toString('base64url') : null,
    };
  }
}

function decodeCursor(cursor: string): string {
  const owner = Buffer.from(cursor, 'base64url').toString('utf8');
  if (owner.length === 0 || Buffer.from(owner, 'utf8').toString('base64url') !== cursor) {
    throw new ValidationError('cursor is not one this API returned', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
  return owner;
}
