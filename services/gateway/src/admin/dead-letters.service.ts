import { Inject, Injectable } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { ConflictError, NotFoundError, ValidationError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { sql } from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';

interface DeadLetterRow {
  id: string;
  dlq_sequence: string;
  stream: string;
  subject: string;
  stream_sequence: string | null;
  deliveries: number | null;
  reason: string;
  headers: Record<string, string>;
  payload: string;
  task_id: string | null;
  created_at: Date;
  replayed_at: Date | null;
  replay_count: number;
  discarded_at: Date | null;
  discarded_by: string | null;
}

/** Which dead letters a list shows: those still to deal with (default), the discarded ones, or both. */
export const DEAD_LETTER_STATES = ['open', 'discarded', 'all'] as const;
export type DeadLetterState = (typeof DEAD_LETTER_STATES)[number];

/**
 * Dead letters for operators: list, inspect, replay and discard what the workflow workers recorded
 * from the DEAD_LETTERS stream into the dead_letters table (services/workflow-worker, dead-letters/).
 */
@Injectable()
export class DeadLettersService {
  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {}

  async list(limit: number, stream?: string, state: DeadLetterState = 'open') {
    const { rows } = await sql<DeadLetterRow>(
      this.dataSource,
      `SELECT * FROM dead_letters
        WHERE ($1::text IS NULL OR stream = $1)
          AND ($3 = 'all' OR ($3 = 'open') = (discarded_at IS NULL))
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [stream ?? null, limit, state],
    );
    return { items: rows.map((r) => view(r, false)) };
  }

  async get(id: string) {
    return view(await this.find(id), true);
  }

  /**
   * Puts a dead letter back on its original subject (a new message id), and counts the replay. The
   * row is locked while it is published, so a replay and a discard of the same one serialise; a
   * discarded dead letter is a 409.
   */
  async replay(id: string) {
    await this.dataSource.transaction(async (em) => {
      const row = await this.find(id, em, true);
      if (row.discarded_at) throw new ConflictError(`Dead letter ${id} was discarded${row.discarded_by ? ` by ${row.discarded_by}` : ''}: it cannot be replayed`);
      if (!row.subject || row.subject.startsWith('dlq.')) throw new ValidationError('This dead letter has no subject to go back to', [{ field: 'id', message: 'not replayable' }]);
      const hdrs = natsHeaders();
      for (const [key, value] of Object.entries(row.headers)) {
        if (key.startsWith('Roadmap-Dlq-') || key.toLowerCase().startsWith('nats-')) continue;
        hdrs.set(key, value);
      }
      await this.messaging.js.publish(this.messaging.subject(row.subject), row.payload, {
        headers: hdrs,
        msgID: `replay:${row.id}:${row.replay_count + 1}`,
      });
      await sql(em, `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1`, [id]);
    });
    return { ...view(await this.find(id), false), status: 'replayed' };
  }

  /**
   * Marks a dead letter as dealt with without replaying it: it is kept (with who discarded it, for
   * audit), left out of the default list, and can no longer be replayed. Discarding twice is harmless.
   */
  async discard(id: string, by: string) {
    await this.find(id);
    await sql(this.dataSource, `UPDATE dead_letters SET discarded_at = now(), discarded_by = $2 WHERE id = $1 AND discarded_at IS NULL`, [id, by]);
    return { ...view(await this.find(id), false), status: 'discarded' };
  }

  private async find(id: string, runner: DataSource | EntityManager = this.dataSource, lock = false): Promise<DeadLetterRow> {
    const { rows } = await sql<DeadLetterRow>(runner, `SELECT * FROM dead_letters WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!rows[0]) throw new NotFoundError('Dead letter', id);
    return rows[0];
  }
}

function view(row: DeadLetterRow, withPayload: boolean) {
  return {
    id: row.id,
    stream: row.stream,
    subject: row.subject,
    streamSequence: row.stream_sequence === null ? null : Number(row.stream_sequence),
    deliveries: row.deliveries,
    reason: row.reason,
    taskId: row.task_id,
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
    replayCount: row.replay_count,
    discardedAt: row.discarded_at?.toISOString() ?? null,
    discardedBy: row.discarded_by,
    ...(withPayload ? { headers: row.headers, payload: row.payload } : {}),
  };
}
