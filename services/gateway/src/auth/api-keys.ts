import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { sql, type ApiKeyRole } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import { DataSource, type EntityManager } from 'typeorm';

export const ROLES = ['admin', 'user'] as const satisfies readonly ApiKeyRole[];
export type Role = (typeof ROLES)[number];

/** Every API key starts with this, so a leaked one is recognisable (secret scanners) and told apart from a JWT. */
export const API_KEY_PREFIX = 'rk_';
/** Characters of the key kept in the clear, to show and revoke it by (`rk_` and 9 more). */
const DISPLAY_PREFIX_LENGTH = 12;
const API_KEY_PATTERN = /^rk_[A-Za-z0-9_-]{40,60}$/;

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
export const looksLikeApiKey = (value: string): boolean => API_KEY_PATTERN.test(value);

/** A key as listed: never the key nor its hash. */
export interface ApiKeyInfo {
  id: string;
  prefix: string;
  owner: string;
  role: Role;
  /** May ask for `high` priority whatever its owner's policy says. */
  priorityHigh: boolean;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface Row {
  id: string;
  prefix: string;
  owner: string;
  role: Role;
  priority_high: boolean;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const info = (r: Row): ApiKeyInfo => ({
  id: r.id,
  prefix: r.prefix,
  owner: r.owner,
  role: r.role,
  priorityHigh: r.priority_high,
  label: r.label,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
});

/** How often a key's last_used_at is written at most (one UPDATE per key and minute, not per request). */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API keys in PostgreSQL (`api_keys`): 256 random bits, stored as their sha256 (a fast hash is
 * enough for a random key of that length), with a short prefix to show and revoke them by. Used by
 * the gateway's guard and by the CLI.
 */
@Injectable()
export class ApiKeys {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Creates a key; the returned `key` is the only time it exists in the clear. */
  async create(owner: string, role: Role, label: string | null = null, actor = 'unknown', priorityHigh = false): Promise<{ key: string; info: ApiKeyInfo }> {
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const created = await this.dataSource.transaction(async (em) => {
      const { rows } = await sql<Row>(
        em,
        `INSERT INTO api_keys (id, prefix, hash, owner, role, label, priority_high) VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, prefix, owner, role, priority_high, label, created_at, revoked_at, last_used_at`,
        [timeOrderedId(), key.slice(0, DISPLAY_PREFIX_LENGTH), hashApiKey(key), owner, role, label, priorityHigh],
      );
      const made = info(rows[0]!);
      await auditKeyChange(em, actor, 'apikey.create', made, { owner, role, label, priorityHigh });
      return made;
    });
    return { key, info: created };
  }

  /** The owner, role and priority grant of an active key, or null (unknown or revoked). */
  async verify(key: string): Promise<{ id: string; owner: string; role: Role; priorityHigh: boolean } | null> {
    if (!looksLikeApiKey(key)) return null;
    const { rows } = await sql<{ id: string; owner: string; role: Role; priority_high: boolean; last_used_at: Date | null }>(
      this.dataSource,
      `SELECT id, owner, role, priority_high, last_used_at FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    const row = rows[0];
    if (!row) return null;
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
      // Best effort: a failed bookkeeping write must not fail the request.
      void sql(this.dataSource, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [row.id]).catch(() => undefined);
    }
    return { id: row.id, owner: row.owner, role: row.role, priorityHigh: row.priority_high };
  }

  /** Revokes the key with this id or display prefix; returns what was revoked (none, or several when ambiguous: nothing is revoked then). */
  async revoke(idOrPrefix: string, actor = 'unknown'): Promise<{ revoked: ApiKeyInfo | null; matches: ApiKeyInfo[] }> {
    const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrPrefix);
    const { rows } = await sql<Row>(
      this.dataSource,
      `SELECT id, prefix, owner, role, priority_high, label, created_at, revoked_at, last_used_at FROM api_keys
        WHERE ${isId ? 'id = $1::uuid' : 'prefix = $1'} AND revoked_at IS NULL`,
      [idOrPrefix],
    );
    if (rows.length !== 1) return { revoked: null, matches: rows.map(info) };
    const revoked = await this.dataSource.transaction(async (em) => {
      const updated = await sql<Row>(
        em,
        `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
         RETURNING id, prefix, owner, role, priority_high, label, created_at, revoked_at, last_used_at`,
        [rows[0]!.id],
      );
      const gone = updated.rows[0] ? info(updated.rows[0]) : null;
      if (gone) await auditKeyChange(em, actor, 'apikey.revoke', gone, { target: idOrPrefix });
      return gone;
    });
    return { revoked, matches: rows.map(info) };
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<ApiKeyInfo[]> {
    const { rows } = await sql<Row>(
      this.dataSource,
      `SELECT id, prefix, owner, role, priority_high, label, created_at, revoked_at, last_used_at FROM api_keys
        ${options.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
    );
    return rows.map(info);
  }
}

/**
 * API-key changes go to the admin audit trail (GET /api/v1/admin/audit) in the change's own
 * transaction: the CLI writes keys straight to PostgreSQL, so this is where they are recorded.
 */
async function auditKeyChange(em: EntityManager, actor: string, action: string, key: ApiKeyInfo, params: object): Promise<void> {
  await sql(em, `INSERT INTO admin_audit (actor, action, target, params, outcome, result) VALUES ($1, $2, $3, $4::jsonb, 'ok', $5::jsonb)`, [
    actor,
    action,
    key.id,
    JSON.stringify(params),
    JSON.stringify({ id: key.id, prefix: key.prefix, owner: key.owner, role: key.role }),
  ]);
}
