import { randomUUID } from 'node:crypto';
import { captureTraceContext } from '@roadmap/messaging';
import { sql } from '@roadmap/persistence';
import { v5 } from 'uuid';
import type { EntityManager } from 'typeorm';

/** A message a transaction decided, published by the {@link OutboxRelay} once that transaction committed. */
export interface OutboxMessage {
  /** Logical subject (without the namespace). */
  readonly subject: string;
  readonly payload: unknown;
  /**
   * The message's logical identity (`workflow-generate:<task>`), sent as its `Nats-Msg-Id`: the same
   * key always makes the same outbox row id, so a transaction that runs again (a redelivered fan-out)
   * writes no second row while the first waits, and the stream drops the repeat once it went out.
   * Without it the message gets an id of its own (its row id).
   */
  readonly key?: string;
  /** The task the message belongs to: a task's messages are published in the order they were written. */
  readonly taskId?: string | null;
  /**
   * The trace its publish continues ({@link captureTraceContext} where the work was asked for);
   * default: the trace active at `add` (a batch of requests sharing a transaction each give their own).
   */
  readonly trace?: Record<string, string>;
  /**
   * A core NATS notice (no stream holds its subject: a cancel notice), published with a plain publish
   * and a flush; default: a JetStream publish, acknowledged by the stream.
   */
  readonly core?: boolean;
}

/** Namespace of the name-based (v5) ids derived from message keys. */
const KEY_NAMESPACE = '8d6d7a1e-3f5c-4b8e-9a57-0c2f5e4b6a10';

/** The outbox row id of a message with `key`. */
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
    const trace = captureTraceContext();
    await sql(
      em,
      `INSERT INTO outbox (id, msg_id, task_id, subject, payload, trace, core)
       SELECT id, msg_id, task_id, subject, payload::jsonb, trace::jsonb, core
         FROM unnest($1::uuid[], $6::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $7::bool[]) AS x(id, msg_id, task_id, subject, payload, trace, core)
       ON CONFLICT (id) DO NOTHING`,
      [
        ids,
        messages.map((m) => m.taskId ?? null),
        messages.map((m) => m.subject),
        messages.map((m) => JSON.stringify(m.payload)),
        messages.map((m) => (m.trace ?? trace ? JSON.stringify(m.trace ?? trace) : null)),
        messages.map((m, i) => m.key ?? ids[i]!),
        messages.map((m) => m.core === true),
      ],
      { prepare: true },
    );
  },
};
