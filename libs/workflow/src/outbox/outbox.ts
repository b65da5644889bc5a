import { randomUUID } from 'node:crypto';
import { sql } from '@roadmap/persistence';
import { v5 } from 'uuid';
import type { EntityManager } from 'typeorm';

/** A message a transaction decided, published by the {@link OutboxRelay} once that transaction committed. */
export interface OutboxMessage {
  /** Logical subject (without the namespace). */
  readonly subject: string;
  readonly payload: unknown;
  /**
   * The message's logical identity (`workflow-generate:<task>`): the same key always makes the same
   * outbox id, hence the same `Nats-Msg-Id`, so a transaction that runs again (a redelivered
   * fan-out) never makes a second, different message of one logical message. Without it the message
   * gets an id of its own.
   */
  readonly key?: string;
  /** The task the message belongs to: a task's messages are published in the order they were written. */
  readonly taskId?: string | null;
}

/** Namespace of the name-based (v5) ids derived from message keys. */
const KEY_NAMESPACE = '8d6d7a1e-3f5c-4b8e-9a57-0c2f5e4b6a10';

/** The outbox id (and `Nats-Msg-Id`) of a message with `key`. */
export function outboxId(key: string): string {
  return v5(key, KEY_NAMESPACE);
}

/**
 * Writes messages to the `outbox` table inside the caller's transaction: they exist for the rest of
 * the platform exactly when that transaction commits (the relay publishes them after). One INSERT
 * per call. A message whose key is pending already is not written twice.
 */
export const Outbox = {
  async add(em: EntityManager, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const ids = messages.map((m) => (m.key === undefined ? randomUUID() : outboxId(m.key)));
    await sql(
      em,
      `INSERT INTO outbox (id, task_id, subject, payload)
       SELECT id, task_id, subject, payload::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS x(id, task_id, subject, payload)
       ON CONFLICT (id) DO NOTHING`,
      [ids, messages.map((m) => m.taskId ?? null), messages.map((m) => m.subject), messages.map((m) => JSON.stringify(m.payload))],
    );
  },
};
