import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DeadLetterActions } from '@roadmap/workflow';
import { DataSource } from 'typeorm';

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
    @Inject(DeadLetterActions) private readonly actions: DeadLetterActions,
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

  /** Puts a dead letter back on its original subject (DeadLetterActions.replay), and counts the replay; 409 when it was discarded. */
  async replay(id: string) {
    await this.actions.replay(id);
    return { ...view(await this.find(id), false), status: 'replayed' };
  }

  /**
   * Marks a dead letter as dealt with without replaying it: it is kept (with who discarded it, for
   * audit), left out of the default list, and can no longer be replayed. Discarding twice is harmless.
   */
  async discard(id: string, by: string) {
    await this.actions.discard(id, by);
    return { ...view(await this.find(id), false), status: 'discarded' };
  }

  private async find(id: string): Promise<DeadLetterRow> {
    const { rows } = await sql<DeadLetterRow>(this.dataSource, `SELECT * FROM dead_letters WHERE id = $1`, [id]);
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
