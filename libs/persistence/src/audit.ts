import type { DataSource, EntityManager } from 'typeorm';
import { sql } from './sql.js';

/** One entry of the admin audit trail. */
export interface AuditEntry {
  actor: string;
  action: string;
  target: string | null;
  params: object;
  outcome: 'ok' | 'failed';
  result: unknown;
}

/**
 * Appends to the admin audit trail (admin_audit): the one way it is written, by the gateway's admin
 * routes and by the admin bulk task when it ends (in the transaction that completes it).
 */
export async function appendAudit(db: DataSource | EntityManager, entry: AuditEntry): Promise<void> {
  await sql(db, `INSERT INTO admin_audit (actor, action, target, params, outcome, result) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb)`, [
    entry.actor,
    entry.action,
    entry.target,
    JSON.stringify(entry.params ?? {}),
    entry.outcome,
    entry.result === undefined ? null : JSON.stringify(entry.result),
  ]);
}
