import { Inject, Injectable } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { ConflictError, NotFoundError, ValidationError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { sql } from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';

interface DeadLetterTarget {
  id: string;
  subject: string;
  headers: Record<string, string>;
  payload: string;
  replay_count: number;
  discarded_at: Date | null;
  discarded_by: string | null;
}

/**
 * What operators do with a dead letter (the workflow worker records them in dead_letters): replay
 * and discard, one implementation for the gateway's single-item routes and the bulk task.
 *
 * A replay publishes straight to JetStream under the row's lock, not through the outbox: a dead
 * letter's payload is kept byte for byte (it may be invalid JSON, which the outbox's jsonb cannot
 * hold) with its original headers. It is as safe: the message id `replay:<id>:<n>` names the n-th
 * replay, so a replay repeated after a crash between publish and commit is dropped by the stream's
 * dedupe, and the count moves once.
 */
@Injectable()
export class DeadLetterActions {
  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {}

  /** Puts a dead letter back on its original subject and counts the replay. 409 when it was discarded. */
  async replay(id: string, also?: (em: EntityManager) => Promise<unknown>): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      const row = await this.lock(em, id);
      if (row.discarded_at) throw new ConflictError(`Dead letter ${id} was discarded${row.discarded_by ? ` by ${row.discarded_by}` : ''}: it cannot be replayed`);
      if (!row.subject || row.subject.startsWith('dlq.')) throw new ValidationError('This dead letter has no subject to go back to', [{ field: 'id', message: 'not replayable' }]);
      const hdrs = natsHeaders();
      for (const [key, value] of Object.entries(row.headers)) {
        if (key.startsWith('Roadmap-Dlq-') || key.toLowerCase().startsWith('nats-')) continue;
        hdrs.set(key, value);
      }
      await this.messaging.js.publish(this.messaging.subject(row.subject), row.payload, { headers: hdrs, msgID: `replay:${row.id}:${row.replay_count + 1}` });
      await sql(em, `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1`, [id]);
      await also?.(em);
    });
  }

  /**
   * Marks a dead letter as dealt with (kept, with who discarded it): it can no longer be replayed.
   * False when it was discarded already (harmless).
   */
  async discard(id: string, by: string, also?: (em: EntityManager) => Promise<unknown>): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const row = await this.lock(em, id);
      if (row.discarded_at) return false;
      await sql(em, `UPDATE dead_letters SET discarded_at = now(), discarded_by = $2 WHERE id = $1`, [id, by]);
      await also?.(em);
      return true;
    });
  }

  private async lock(em: EntityManager, id: string): Promise<DeadLetterTarget> {
    const { rows } = await sql<DeadLetterTarget>(em, `SELECT id, subject, headers, payload, replay_count, discarded_at, discarded_by FROM dead_letters WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) throw new NotFoundError('Dead letter', id);
    return rows[0];
  }
}
